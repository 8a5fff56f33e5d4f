//! readyio's benchmarks live in `benches/`; this library is empty. See BENCHMARKS.md at the
//! repository root for what each measures and the command that runs it.
