//! readyio's benchmarks live in `benches/`; see BENCHMARKS.md at the repository root for
//! what each measures and the command that runs it. The HTTP benchmark's contender servers
//! live in `src/bin/` (`http_mio`, `http_tokio`) and share [`http_contender`].

pub mod http_contender;
