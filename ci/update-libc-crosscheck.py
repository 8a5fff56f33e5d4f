#!/usr/bin/env python3
"""Writes tests/bindings_match_libc/lists.rs: for every committed target, what the libc
cross-check compares, generated from the names readyio's code uses.

The names are every `c::NAME` / `bindings::NAME` that src/sys/ (the only code that uses the
bindings) references. For each committed target, those that its bindings file defines become:

* consts: the constants, compared with libc's of the same name;
* types: the structs, unions and typedefs, compared by size and alignment; and every field
  of those structs, compared by offset;
* synonyms: for a constant libc lacks, the other names the target's C headers give it
  (`#define IPV6_ADD_MEMBERSHIP IPV6_JOIN_GROUP` in glibc and musl), compared with libc's
  constant of that other name;
* not_in_libc: the constants and types libc lacks (under every name): listed, so the test
  can tell a name nobody can compare from one the lists forgot.

What libc lacks is found by compiling the cross-check for the target (`cargo check --tests
--test bindings_match_libc --target T`) and dropping each name rustc cannot find in libc
(and each field libc keeps private), until it compiles. A failed const assertion is a real
disagreement and stops the script with the compiler's message: it is never dropped. Run by
ci/regenerate-bindings.sh; needs the targets installed and the pinned ziglang (its headers
give the synonyms).

Usage: ci/update-libc-crosscheck.py [TARGET...]   (default: every committed target)
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYS = os.path.join(ROOT, "src", "sys")
BINDINGS = os.path.join(SYS, "bindings")
LISTS = os.path.join(ROOT, "tests", "bindings_match_libc", "lists.rs")
SECTIONS = ("consts", "synonyms", "types", "fields", "not_in_libc")


def used_names():
    """Every NAME that src/sys/ (outside the generated bindings) refers to as c::NAME or
    bindings::NAME. tests/bindings_match_libc.rs finds them the same way."""
    names = set()
    for folder, dirs, files in os.walk(SYS):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) != BINDINGS]
        for f in files:
            if f.endswith(".rs"):
                text = open(os.path.join(folder, f)).read()
                names.update(re.findall(r"\b(?:c|bindings)::([A-Za-z_][A-Za-z0-9_]*)", text))
    return names


def committed_targets():
    return sorted(f[:-3] for f in os.listdir(BINDINGS) if f.endswith(".rs") and "-" in f)


def target_cfg_values(target):
    out = subprocess.run(["rustc", "--print", "cfg", "--target", target], check=True,
                         capture_output=True, text=True).stdout
    return dict(re.findall(r'^(target_os|target_env|target_arch|target_endian)="([^"]*)"$', out, re.M))


def target_cfg(target):
    cfg = target_cfg_values(target)
    # The byte order tells apart targets that share an arch name (powerpc64le and powerpc64).
    keys = ["target_os", "target_env", "target_arch", "target_endian"]
    if not cfg.get("target_env"):
        keys.remove("target_env")
    return "all(" + ", ".join(f'{k} = "{cfg[k]}"' for k in keys) + ")"


def zig_header_dirs(target):
    """The zig libc header folders bindgen reads for `target`: build.rs's zig_header_args."""
    import ziglang
    root = os.path.join(os.path.dirname(ziglang.__file__), "lib", "libc", "include")
    cfg = target_cfg_values(target)
    arch = target.split("-")[0]
    arches = {"x86_64": ["x86_64", "x86"], "i686": ["x86"], "i586": ["x86"], "aarch64": ["aarch64"],
              "arm": ["arm"], "armv7": ["arm"], "riscv64gc": ["riscv64", "riscv"], "riscv64": ["riscv64", "riscv"],
              "powerpc64": ["powerpc64", "powerpc"], "powerpc64le": ["powerpc64", "powerpc"],
              "s390x": ["s390x"], "loongarch64": ["loongarch64", "loongarch"]}.get(arch, [arch])
    os_name = {"macos": "macos", "ios": "macos"}.get(cfg["target_os"], cfg["target_os"])
    abi, libc = {("linux", "gnu"): ("gnu", "glibc"), ("linux", "musl"): ("musl", "musl")}.get(
        (cfg["target_os"], cfg.get("target_env", "")), ("none", cfg["target_os"]))
    names = [f"{a}-{os_name}-{abi}" for a in arches] + [f"generic-{libc}"]
    names += [f"{a}-{os_name}-any" for a in arches] + [f"any-{os_name}-any"]
    return [os.path.join(root, n) for n in names if os.path.isdir(os.path.join(root, n))]


def header_synonyms(target):
    """Pairs of names the target's headers define as one another (`#define A B`)."""
    pairs = set()
    define = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+\(?([A-Za-z_]\w*)\)?\s*(?:/\*.*)?$", re.M)
    for d in zig_header_dirs(target):
        for folder, _, files in os.walk(d):
            for f in files:
                if f.endswith(".h"):
                    text = open(os.path.join(folder, f), errors="replace").read()
                    pairs.update(define.findall(text))
    return pairs


def synonyms_of(name, pairs):
    """Every name connected to `name` through the headers' `#define A B` lines."""
    found, todo = set(), [name]
    while todo:
        n = todo.pop()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x == n and y != name and y not in found:
                    found.add(y)
                    todo.append(y)
    return sorted(found)


def cargo_for(target):
    """Plain cargo where rustup installed the target's std, else nightly cargo building std
    from source (as ci/common.sh's cargo_for_target, which has installed what is needed)."""
    installed = subprocess.run(["rustup", "target", "list", "--installed"], check=True,
                               capture_output=True, text=True).stdout.split()
    return ["cargo"] if target in installed else ["cargo", "+nightly", "-Zbuild-std"]


def candidates(target, used):
    src = open(os.path.join(BINDINGS, target + ".rs")).read()
    consts = [c for c in re.findall(r"^pub const (\w+):", src, re.M) if c in used]
    types = [t for t in dict.fromkeys(re.findall(r"^pub (?:struct|union|type) (\w+)\b", src, re.M)) if t in used]
    fields = []
    for t in types:
        body = re.search(rf"^pub struct {t} \{{([^}}]*)\}}", src, re.M)
        if body:
            fields += [f"{t}.{f}" for f in re.findall(r"\bpub (\w+):", body.group(1))]
    return {"consts": consts, "synonyms": [], "types": types, "fields": fields, "not_in_libc": []}


def wrap(names, indent):
    lines, line = [], ""
    for n in names:
        piece = n + ", "
        if len(indent) + len(line) + len(piece) > 112:
            lines.append(indent + line.rstrip())
            line = ""
        line += piece
    if line:
        lines.append(indent + line.rstrip())
    return "\n".join(lines)


def render(lists, cfgs):
    out = ["// Generated by ci/update-libc-crosscheck.py from the names src/sys/ uses: per committed",
           "// target, what our bindings and the libc crate both define, and what libc lacks. Do not edit;",
           "// rerun the script (ci/regenerate-bindings.sh does) after changing src/sys/, build.rs,",
           "// wrapper.h or the libc version.", ""]
    for t in sorted(lists):
        v = lists[t]
        out += [f"// {t}", f"#[cfg({cfgs[t]})]", "cross_check! {"]
        for section in SECTIONS:
            names = [f"{a} = {b}" for a, b in v[section]] if section == "synonyms" else v[section]
            out += [f"    {section}: [", wrap(names, "        "), "    ],"] if names else [f"    {section}: [],"]
        out += ["}", ""]
    out += ["/// Applies to the targets above, the only ones with lists.", "macro_rules! on_listed_targets {",
            "    ($($item:item)*) => {", "        $(", "            #[cfg(any(",
            ",\n".join("                " + cfgs[t] for t in sorted(lists)), "            ))]",
            "            $item", "        )*", "    };", "}", ""]
    return "\n".join(out)


def existing():
    """The lists already in the file, so one target can be updated alone."""
    if not os.path.exists(LISTS):
        return {}
    text = open(LISTS).read()
    found = {}
    for t, body in re.findall(r"^// (\S+)\n#\[cfg\([^\n]*\)\]\ncross_check! \{\n(.*?)\n\}", text, re.M | re.S):
        parts = dict(re.findall(r"(\w+): \[(.*?)\]", body, re.S))
        v = {k: [n for n in re.split(r"\s*,\s*", parts.get(k, "").strip()) if n] for k in SECTIONS}
        v["synonyms"] = [tuple(re.split(r"\s*=\s*", s)) for s in v["synonyms"]]
        found[t] = v
    return found


def check(target):
    return subprocess.run(cargo_for(target) + ["check", "--quiet", "--tests", "--test", "bindings_match_libc",
                                               "--target", target, "--message-format", "short"],
                          cwd=ROOT, capture_output=True, text=True)


def drop_what_libc_lacks(v, stderr):
    """Moves the names rustc could not find in libc out of the comparisons; returns how many."""
    dropped = 0
    for name in re.findall(r"cannot find value `(\w+)` in crate `libc`", stderr):
        if name in v["consts"]:
            v["consts"].remove(name)
            v["not_in_libc"].append(name)
            dropped += 1
        for pair in [p for p in v["synonyms"] if p[1] == name]:
            v["synonyms"].remove(pair)
            dropped += 1
    for name in re.findall(r"cannot find type `(\w+)` in crate `libc`", stderr):
        if name in v["types"]:
            v["types"].remove(name)
            v["fields"] = [f for f in v["fields"] if not f.startswith(name + ".")]
            v["not_in_libc"].append(name)
            dropped += 1
    lacking = re.findall(r"no field `(\w+)` on type `(?:libc::)?(\w+)`", stderr)
    lacking += re.findall(r"field `(\w+)` of struct `(?:libc::)?(\w+)` is private", stderr)
    for field, struct in lacking:
        if f"{struct}.{field}" in v["fields"]:
            v["fields"].remove(f"{struct}.{field}")
            dropped += 1
    return dropped


def settle(target, lists, cfgs):
    """Compiles the cross-check for `target` until it does, dropping what libc lacks."""
    for _ in range(12):
        with open(LISTS, "w") as f:
            f.write(render(lists, cfgs))
        run = check(target)
        if run.returncode == 0:
            return
        if not drop_what_libc_lacks(lists[target], run.stderr):
            sys.stderr.write(run.stderr)
            sys.exit(f"error: the libc cross-check does not compile for {target} (see above)")
    sys.exit(f"error: no stable list for {target} after 12 rounds")


def main():
    targets = sys.argv[1:] or committed_targets()
    used = used_names()
    lists = {t: v for t, v in existing().items() if t in committed_targets()}
    cfgs = {t: target_cfg(t) for t in set(lists) | set(targets)}
    for target in targets:
        lists[target] = candidates(target, used)
        settle(target, lists, cfgs)
        # Constants libc lacks under their own name: try the other names the headers give them.
        v = lists[target]
        pairs = header_synonyms(target)
        v["synonyms"] = [(n, s) for n in v["not_in_libc"] for s in synonyms_of(n, pairs)]
        if v["synonyms"]:
            settle(target, lists, cfgs)
        v["not_in_libc"] = [n for n in v["not_in_libc"] if n not in {a for a, _ in v["synonyms"]}]
        with open(LISTS, "w") as f:
            f.write(render(lists, cfgs))
        print(f"{target}: {len(v['consts'])} constants, {len(v['synonyms'])} synonyms, {len(v['types'])} types, "
              f"{len(v['fields'])} fields; not in libc: {', '.join(v['not_in_libc']) or 'none'}")
    run_checks = [check(t) for t in targets]
    for t, run in zip(targets, run_checks):
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            sys.exit(f"error: the final lists do not compile for {t}")


if __name__ == "__main__":
    main()
