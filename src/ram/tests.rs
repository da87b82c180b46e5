//! RAM's rules in process: the grant index follows shares, invitations and removals.
