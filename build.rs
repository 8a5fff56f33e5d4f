//! Chooses the syscall bindings `src/sys/bindings/mod.rs` includes.
//!
//! * Default build: the committed file `src/sys/bindings/<target>.rs`. No libclang is
//!   needed; a target without a committed file stops here with a message naming both fixes.
//! * Feature `generate`: bindgen runs over `wrapper.h` for the target being built and its
//!   output is used instead. With `READYIO_WRITE_BINDINGS=1` the output also overwrites the
//!   committed file: that is how a target's bindings are made or refreshed (README.md).
//!
//! Either way the chosen path reaches the crate as the compile-time variable
//! `READYIO_BINDINGS`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-env-changed=READYIO_WRITE_BINDINGS");

    let target = env::var("TARGET").expect("cargo sets TARGET for build scripts");
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let committed = manifest_dir.join("src/sys/bindings").join(format!("{target}.rs"));
    println!("cargo:rerun-if-changed={}", committed.display());

    let chosen = choose_bindings(&target, &committed);
    println!("cargo:rustc-env=READYIO_BINDINGS={}", chosen.display());
}

#[cfg(not(feature = "generate"))]
fn choose_bindings(target: &str, committed: &std::path::Path) -> PathBuf {
    if committed.is_file() {
        return committed.to_path_buf();
    }
    eprintln!(
        "\nreadyio has no committed syscall bindings for the target `{target}`.\n\
         Either build with `--features generate` (needs libclang: e.g. `apt-get install libclang-dev`)\n\
         to generate them from this system's headers, or write them once with\n\
         \n    READYIO_WRITE_BINDINGS=1 cargo build --features generate --target {target}\n\
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
    generated
}

#[cfg(feature = "generate")]
mod generate {
    use bindgen::callbacks::{EnumVariantCustomBehavior, EnumVariantValue, IntKind, ParseCallbacks};
    use std::path::Path;

    /// Functions the `sys` layer calls. Each must come out of bindgen: a name that matches
    /// nothing is silently dropped by bindgen, so `bindings_for` checks them one by one.
    const LINUX_FUNCTIONS: &[&str] =
        &["epoll_create1", "epoll_ctl", "epoll_wait", "eventfd", "syscall", "pipe2", "accept4", "__errno_location"];
    const KQUEUE_FUNCTIONS: &[&str] = &["kqueue", "kevent", "pipe", "accept", "ioctl", "__error"];
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
        "E(AGAIN|WOULDBLOCK|INTR|INPROGRESS|EXIST|NOENT|BADF|INVAL|PIPE|NOSYS|CONNREFUSED|CONNRESET|NOTCONN|ADDRINUSE|ISCONN|ALREADY|NOTSOCK|MFILE)",
    ];

    /// Gives each macro constant the C type its users expect instead of bindgen's `u32`.
    #[derive(Debug)]
    struct ConstantTypes {
        os: String,
    }

    impl ParseCallbacks for ConstantTypes {
        fn int_macro(&self, name: &str, value: i64) -> Option<IntKind> {
            let kind = if name.starts_with("EPOLL") || name.starts_with("NOTE_") {
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

    pub fn bindings_for(target: &str, out_dir: &Path) -> String {
        let os = std::env::var("CARGO_CFG_TARGET_OS").expect("cargo sets CARGO_CFG_TARGET_OS");
        let linux = os == "linux" || os == "android";
        let mut functions: Vec<&str> = COMMON_FUNCTIONS.to_vec();
        functions.extend_from_slice(if linux { LINUX_FUNCTIONS } else { KQUEUE_FUNCTIONS });
        if matches!(os.as_str(), "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
            functions.extend_from_slice(BSD_ONLY_FUNCTIONS);
        }

        let mut builder = bindgen::Builder::default()
            .header("wrapper.h")
            .clang_macro_fallback()
            .clang_macro_fallback_build_dir(out_dir)
            .parse_callbacks(Box::new(ConstantTypes { os: os.clone() }))
            .blocklist_type("_bindgen_ty_[0-9]+")
            .ctypes_prefix("::core::ffi")
            .use_core()
            .layout_tests(true)
            .derive_default(true)
            .derive_debug(false)
            .generate_comments(false)
            .formatter(bindgen::Formatter::Prettyplease)
            .raw_line(format!(
                "// Generated by readyio's build.rs (bindgen over wrapper.h) for {target}. Do not edit:\n\
                 // regenerate with `READYIO_WRITE_BINDINGS=1 cargo build --features generate --target {target}`."
            ));
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
