//! The services this binary serves: one registration line each.

use crate::registry::Registration;

/// Every service, in the order the front end tries their routes.
pub static ALL: &[&Registration] = &[&crate::cloudmap::REGISTRATION, &crate::mskconnect::REGISTRATION];
