//! readyio
#![allow(missing_docs)]
mod sys { pub mod bindings; }
