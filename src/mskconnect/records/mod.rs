//! What MSK Connect keeps in the store: the documents of its resources ([`documents`]) and of
//! connector operations ([`operations`]), and their keys, tasks and ARNs ([`keys`]).

pub mod documents;
pub mod keys;
pub mod operations;

pub use documents::*;
pub use keys::*;
pub use operations::*;
