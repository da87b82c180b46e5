//! What MSK Connect keeps in the store: the documents of its resources ([`documents`]) and of
//! connector operations ([`connector_operation`]), and their keys, tasks and ARNs ([`keys`]).

pub mod connector_operation;
pub mod documents;
pub mod keys;

pub use connector_operation::*;
pub use documents::*;
pub use keys::*;
