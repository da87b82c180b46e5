//! AWS Resource Access Manager (RAM): resource shares, their resource and principal associations,
//! invitations and managed permissions — the subset that shares Cloud Map namespaces.

pub mod grants;
