//! Memory of a debuggee: its maps, searching it, and reading typed values.

mod maps;
mod search;

pub use maps::{map_containing, parse_proc_maps, MemoryMap, Perms};
pub use search::{search_memory, Needle};
