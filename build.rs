//! Chooses the syscall bindings `src/sys/bindings/mod.rs` includes.
//!
//! * Default build: the committed file `src/sys/bindings/<target>.rs`. No libclang is
//!   needed; a target without a committed file stops here with a message naming both fixes.
//! * Feature `generate`: bindgen runs over `wrapper.h` for the target being built and its
//!   output is used instead. With `READYIO_WRITE_BINDINGS=1` the output also overwrites the
//!   committed file: that is how a target's bindings are made or refreshed (README.md).
//!
//!   `READYIO_WRITE_BINDINGS_TO=<dir>` writes `<dir>/<target>.rs` instead (the drift check).
//! * Headers of other systems: with `READYIO_ZIG_LIBC_INCLUDE=<dir>` (the `lib/libc/include`
//!   folder of the pinned PyPI package `ziglang`), bindgen reads the target's libc headers from
//!   there instead of this machine's (`-nostdlibinc -isystem ...`), which is how every
//!   committed file is made: `ci/regenerate-bindings.sh` sets it. The folders are found from
//!   the target triple, so a new target needs no change here if zig ships its headers.
//!
//! Either way the chosen path reaches the crate as the compile-time variable
//! `READYIO_BINDINGS`, and the committed file's path as `READYIO_COMMITTED_BINDINGS` (what
//! the libc cross-check's coverage test reads).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-env-changed=READYIO_WRITE_BINDINGS");
    println!("cargo:rerun-if-env-changed=READYIO_WRITE_BINDINGS_TO");
    println!("cargo:rerun-if-env-changed=READYIO_ZIG_LIBC_INCLUDE");
    println!("cargo:rerun-if-env-changed=READYIO_LIBKQUEUE_DIR");

    let target = env::var("TARGET").expect("cargo sets TARGET for build scripts");
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let committed = manifest_dir.join("src/sys/bindings").join(format!("{target}.rs"));
    println!("cargo:rerun-if-changed={}", committed.display());

    let chosen = choose_bindings(&target, &committed);
    println!("cargo:rustc-env=READYIO_BINDINGS={}", chosen.display());
    // The committed file, whatever was chosen: tests/bindings_match_libc.rs judges the libc
    // cross-check lists (generated from the committed files) against it.
    println!("cargo:rustc-env=READYIO_COMMITTED_BINDINGS={}", committed.display());
    if let Some(dir) = libkqueue_dir() {
        println!("cargo:rerun-if-changed={}", dir.join("libkqueue.a").display());
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static=kqueue");
    }
}

/// With `--cfg readyio_libkqueue`: libkqueue's cmake build folder (`READYIO_LIBKQUEUE_DIR`,
/// which `ci/test-libkqueue.sh` sets), holding `libkqueue.a` and `include/sys/event.h`.
/// `None` without the cfg; stops the build with the fix when the folder is missing.
fn libkqueue_dir() -> Option<PathBuf> {
    env::var_os("CARGO_CFG_READYIO_LIBKQUEUE")?;
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let dir = env::var_os("READYIO_LIBKQUEUE_DIR").map(PathBuf::from);
    match dir {
        Some(dir) if os == "linux" && dir.join("libkqueue.a").is_file() => Some(dir),
        _ => {
            eprintln!(
                "\n`--cfg readyio_libkqueue` runs readyio's kqueue backend on Linux over libkqueue. It needs\n\
                 the feature `generate` and READYIO_LIBKQUEUE_DIR naming libkqueue's cmake build folder\n\
                 (libkqueue.a, include/sys/event.h), for target_os = \"linux\" (this build: \"{os}\").\n\
                 ci/test-libkqueue.sh builds libkqueue and sets all of it.\n"
            );
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "generate"))]
fn choose_bindings(target: &str, committed: &std::path::Path) -> PathBuf {
    if env::var_os("CARGO_CFG_READYIO_LIBKQUEUE").is_some() {
        eprintln!("\n`--cfg readyio_libkqueue` needs `--features generate` (see ci/test-libkqueue.sh).\n");
        std::process::exit(1);
    }
    if committed.is_file() {
        return committed.to_path_buf();
    }
    eprintln!(
        "\nreadyio has no committed syscall bindings for the target `{target}`.\n\
         Either build with `--features generate` (needs libclang: e.g. `apt-get install libclang-dev`)\n\
         to generate them from this system's headers, or write them once from the pinned zig headers with\n\
         \n    ci/install-deps.sh && ci/regenerate-bindings.sh {target}\n\
         \nand commit {}. See README.md, \"Adding a new target\".\n",
        committed.display()
    );
    std::process::exit(1);
}

#[cfg(feature = "generate")]
fn choose_bindings(target: &str, committed: &std::path::Path) -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = generate::bindings_for(target, &out_dir);
    let generated = out_dir.join("bindings.rs");
    std::fs::write(&generated, &text).expect("write generated bindings into OUT_DIR");
    if env::var_os("READYIO_WRITE_BINDINGS").is_some_and(|v| v != "0") {
        std::fs::write(committed, &text).expect("write the committed bindings file");
        println!("cargo:warning=readyio: wrote {}", committed.display());
    }
    if let Some(dir) = env::var_os("READYIO_WRITE_BINDINGS_TO") {
        let path = PathBuf::from(dir).join(format!("{target}.rs"));
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    generated
}

#[cfg(feature = "generate")]
mod generate {
    use bindgen::callbacks::{EnumVariantCustomBehavior, EnumVariantValue, IntKind, ParseCallbacks};
    use std::path::Path;

    /// Functions the `sys` layer calls. Each must come out of bindgen: a name that matches
    /// nothing is silently dropped by bindgen, so `bindings_for` checks them one by one.
    const LINUX_FUNCTIONS: &[&str] =
        &["epoll_create1", "epoll_ctl", "epoll_wait", "eventfd", "syscall", "pipe2", "accept4"];
    const KQUEUE_FUNCTIONS: &[&str] = &["kqueue", "kevent", "pipe", "accept", "ioctl"];
    /// What libkqueue adds to the Linux bindings (`--cfg readyio_libkqueue`).
    const LIBKQUEUE_FUNCTIONS: &[&str] = &["kqueue", "kevent"];
    /// FreeBSD, NetBSD, OpenBSD and DragonFly have these; macOS has neither.
    const BSD_ONLY_FUNCTIONS: &[&str] = &["pipe2", "accept4"];
    const COMMON_FUNCTIONS: &[&str] = &[
        "socket",
        "socketpair",
        "bind",
        "listen",
        "connect",
        "getsockname",
        "getpeername",
        "getsockopt",
        "setsockopt",
        "shutdown",
        "send",
        "sendto",
        "sendmsg",
        "recv",
        "recvfrom",
        "recvmsg",
        "read",
        "write",
        "readv",
        "writev",
        "close",
        "fcntl",
        "dup",
    ];
    const TYPES: &[&str] = &[
        "epoll_event",
        "epoll_data",
        "epoll_data_t",
        "kevent",
        "sockaddr",
        "sockaddr_in",
        "sockaddr_in6",
        "sockaddr_un",
        "sockaddr_storage",
        "in_addr",
        "in6_addr",
        "ip_mreq",
        "ipv6_mreq",
        "iovec",
        "msghdr",
        "cmsghdr",
        "linger",
        "timespec",
        // What the raw `epoll_pwait2` syscall takes: 64-bit seconds on every ABI (Y2038).
        "__kernel_timespec",
        "socklen_t",
        "sa_family_t",
        "in_port_t",
        "in_addr_t",
        "ssize_t",
        "size_t",
        "pid_t",
    ];
    /// Constant families, as regular expressions over macro names.
    const CONSTANTS: &[&str] = &[
        "EPOLL[A-Z_]*", "EFD_[A-Z]+", "EVFILT_[A-Z]+", "EV_[A-Z]+", "NOTE_[A-Z]+",
        "SOCK_[A-Z]+", "AF_(INET|INET6|UNIX|UNSPEC)", "SOL_SOCKET", "SO_[A-Z]+",
        "IPPROTO_(IP|IPV6|TCP|UDP)", "IP_(MULTICAST_[A-Z]+|ADD_MEMBERSHIP|DROP_MEMBERSHIP|TTL)",
        "IPV6_(MULTICAST_[A-Z]+|ADD_MEMBERSHIP|DROP_MEMBERSHIP|JOIN_GROUP|LEAVE_GROUP|V6ONLY|UNICAST_HOPS)",
        "TCP_(NODELAY|KEEPIDLE|KEEPALIVE|KEEPINTVL|KEEPCNT)", "MSG_[A-Z]+", "MSG_CMSG_CLOEXEC", "SCM_RIGHTS", "SOMAXCONN",
        "O_(NONBLOCK|CLOEXEC|RDONLY|WRONLY|RDWR)", "F_(GETFL|SETFL|GETFD|SETFD|DUPFD_CLOEXEC)",
        "FD_CLOEXEC", "SHUT_(RD|WR|RDWR)", "FIONBIO", "FIOCLEX", "SYS_epoll_pwait2",
        "E(AGAIN|WOULDBLOCK|INTR|INPROGRESS|EXIST|NOENT|BADF|INVAL|PIPE|NOSYS|CONNREFUSED|CONNRESET|NOTCONN|ADDRINUSE|ISCONN|ALREADY|NOTSOCK|MFILE|NFILE)",
    ];

    /// Gives each macro constant the C type its users expect instead of bindgen's `u32`.
    #[derive(Debug)]
    struct ConstantTypes {
        os: String,
    }

    impl ParseCallbacks for ConstantTypes {
        fn int_macro(&self, name: &str, value: i64) -> Option<IntKind> {
            let unsigned = u32::try_from(value).is_ok();
            let kind = if (name.starts_with("EPOLL") || name.starts_with("NOTE_")) && unsigned {
                // Masks such as macOS's `NOTE_PCTRLMASK (~NOTE_PDATAMASK)` are negative ints
                // and fall through to `c_int` below.
                IntKind::UInt
            } else if name.starts_with("EVFILT_") {
                // NetBSD's kevent.filter is uint32_t; everyone else's is short.
                if self.os == "netbsd" {
                    IntKind::UInt
                } else {
                    IntKind::Short
                }
            } else if name.starts_with("EV_") {
                if self.os == "netbsd" {
                    IntKind::UInt
                } else {
                    IntKind::UShort
                }
            } else if name == "FIONBIO" || name == "FIOCLEX" {
                IntKind::ULong
            } else if name.starts_with("SYS_") {
                IntKind::Long
            } else if i32::try_from(value).is_ok() {
                IntKind::Int
            } else {
                return None;
            };
            Some(kind)
        }

        // glibc spells many constants as enum members with `#define X X`; the macro
        // fallback already emits them as typed constants, so the enum copies are hidden.
        fn enum_variant_behavior(
            &self,
            _enum: Option<&str>,
            _name: &str,
            _value: EnumVariantValue,
        ) -> Option<EnumVariantCustomBehavior> {
            Some(EnumVariantCustomBehavior::Hide)
        }
    }

    /// The function behind `errno`, which C spells as a macro.
    fn errno_function(os: &str) -> &'static str {
        match os {
            "linux" | "android" => "__errno_location",
            "netbsd" | "openbsd" => "__errno",
            _ => "__error", // macOS, iOS, FreeBSD, DragonFly
        }
    }

    /// Clang arguments that make bindgen read the target's libc headers from zig's copy
    /// (`READYIO_ZIG_LIBC_INCLUDE`) instead of this machine's, or nothing when it is unset.
    ///
    /// zig names its header folders `<arch>-<os>-<abi>`, `generic-<libc>`, `<arch>-<os>-any`
    /// and `any-<os>-any` (most specific first); this picks the ones that exist for the
    /// target, as zig itself does when it compiles C for it.
    fn zig_header_args(target: &str, os: &str) -> Vec<String> {
        let Some(root) = std::env::var_os("READYIO_ZIG_LIBC_INCLUDE") else {
            return Vec::new();
        };
        let root = std::path::PathBuf::from(root);
        let arch = target.split('-').next().unwrap_or_default();
        let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
        let arches: &[&str] = match arch {
            "x86_64" => &["x86_64", "x86"],
            "i686" | "i586" | "i386" => &["x86"],
            "aarch64" => &["aarch64"],
            "arm" | "armv7" => &["arm"],
            "riscv64gc" | "riscv64" => &["riscv64", "riscv"],
            "powerpc64" | "powerpc64le" => &["powerpc64", "powerpc"],
            "s390x" => &["s390x"],
            "loongarch64" => &["loongarch64", "loongarch"],
            other => panic!("READYIO_ZIG_LIBC_INCLUDE: no zig header folder name known for `{other}`"),
        };
        let zig_os = match os {
            "macos" | "ios" => "macos",
            other => other,
        };
        let (abi, libc) = match (os, env.as_str()) {
            ("linux", "gnu") => ("gnu", "glibc"),
            ("linux", "musl") => ("musl", "musl"),
            (other, _) => ("none", other),
        };
        let mut dirs = Vec::new();
        for a in arches {
            dirs.push(format!("{a}-{zig_os}-{abi}"));
        }
        dirs.push(format!("generic-{libc}"));
        for a in arches {
            dirs.push(format!("{a}-{zig_os}-any"));
        }
        dirs.push(format!("any-{zig_os}-any"));

        let mut args = vec!["-nostdlibinc".to_string()];
        for dir in dirs.iter().map(|d| root.join(d)).filter(|d| d.is_dir()) {
            args.push("-isystem".into());
            args.push(dir.display().to_string());
        }
        assert!(args.len() > 1, "READYIO_ZIG_LIBC_INCLUDE={}: none of {dirs:?} exists", root.display());
        let pointer_width = std::env::var("CARGO_CFG_TARGET_POINTER_WIDTH").unwrap_or_default();
        match (os, libc) {
            // zig passes the glibc version it targets. 32-bit: 2.34, the first with the
            // 64-bit time_t calls that wrapper.h asks for (_TIME_BITS=64). Elsewhere Rust's
            // own minimum, 2.17.
            (_, "glibc") if pointer_width == "32" => args.push("-D__GLIBC_MINOR__=34".into()),
            (_, "glibc") => args.push("-D__GLIBC_MINOR__=17".into()),
            // The deployment targets Rust itself builds for.
            ("macos", _) if arch == "aarch64" => args.push("-mmacosx-version-min=11.0".into()),
            ("macos", _) => args.push("-mmacosx-version-min=10.12".into()),
            _ => {}
        }
        args
    }

    /// The clang spelling of a Rust target triple, as bindgen itself derives it.
    fn clang_target(target: &str) -> String {
        let mut parts: Vec<&str> = target.split('-').collect();
        if parts[0].starts_with("riscv64") {
            parts[0] = "riscv64";
        } else if parts[0].starts_with("riscv32") {
            parts[0] = "riscv32";
        }
        if parts.get(1) == Some(&"apple") && parts[0] == "aarch64" {
            parts[0] = "arm64";
        }
        parts.join("-")
    }

    pub fn bindings_for(target: &str, out_dir: &Path) -> String {
        let os = std::env::var("CARGO_CFG_TARGET_OS").expect("cargo sets CARGO_CFG_TARGET_OS");
        let linux = os == "linux" || os == "android";
        let mut functions: Vec<&str> = COMMON_FUNCTIONS.to_vec();
        functions.extend_from_slice(if linux { LINUX_FUNCTIONS } else { KQUEUE_FUNCTIONS });
        if matches!(os.as_str(), "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
            functions.extend_from_slice(BSD_ONLY_FUNCTIONS);
        }
        functions.push(errno_function(&os));
        // libkqueue's <sys/event.h>, after the Linux headers (wrapper.h), from its own folder.
        let libkqueue_args = match super::libkqueue_dir() {
            Some(dir) => {
                functions.extend_from_slice(LIBKQUEUE_FUNCTIONS);
                vec!["-DREADYIO_LIBKQUEUE".to_string(), "-isystem".into(), dir.join("include").display().to_string()]
            }
            None => Vec::new(),
        };

        let mut builder = bindgen::Builder::default()
            .header("wrapper.h")
            .clang_macro_fallback()
            .clang_macro_fallback_build_dir(out_dir)
            .parse_callbacks(Box::new(ConstantTypes { os: os.clone() }))
            .blocklist_type("_bindgen_ty_[0-9]+")
            // Emit what the crate's `rust-version` (Cargo.toml) accepts, e.g. `extern "C"`
            // blocks without the `unsafe` that Rust 1.82 introduced.
            .rust_target(bindgen::RustTarget::stable(77, 0).expect("a Rust version bindgen knows"))
            .ctypes_prefix("::core::ffi")
            .use_core()
            .layout_tests(true)
            .derive_default(true)
            .derive_debug(false)
            .generate_comments(false)
            .formatter(bindgen::Formatter::Prettyplease)
            .raw_line(format!(
                "// Generated by readyio's build.rs (bindgen over wrapper.h, zig's libc headers) for {target}.\n\
                 // Do not edit: regenerate with `ci/regenerate-bindings.sh {target}`."
            ));
        // An explicit target, although bindgen infers the same one: bindgen 0.72 parses the
        // macro-fallback unit (the constants clang must evaluate, such as glibc's
        // `SO_RCVTIMEO`, a `sizeof(time_t)` expression) for the host otherwise
        // (rust-bindgen#3352), and 32-bit targets would get x86_64's values.
        builder = builder.clang_arg(format!("--target={}", clang_target(target)));
        builder = builder.clang_args(zig_header_args(target, &os)).clang_args(libkqueue_args);
        for f in &functions {
            builder = builder.allowlist_function(f);
        }
        for t in TYPES {
            builder = builder.allowlist_type(t);
        }
        for c in CONSTANTS {
            builder = builder.allowlist_var(c);
        }
        let text = builder
            .generate()
            .unwrap_or_else(|e| panic!("bindgen failed for {target} over wrapper.h: {e}"))
            .to_string();

        for f in &functions {
            let needle = format!("pub fn {f}(");
            assert!(
                text.contains(&needle),
                "bindgen produced no `{f}` for {target}: check wrapper.h and the headers it finds"
            );
        }
        text
    }
}
