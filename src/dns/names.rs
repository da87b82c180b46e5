//! DNS names as the zone logic sees them: lowercase label lists, built from the names Cloud Map
//! stores (namespaces, services, instance ids) and turned into wire names for the answers.

use hickory_proto::rr::Name;

/// A domain name as lowercase labels, leftmost label first, without the root.
pub type Labels = Vec<Vec<u8>>;

/// The longest a label may be on the wire.
const MAX_LABEL: usize = 63;

/// The labels of a wire name, lowercased (RFC 4343: names compare case-insensitively).
pub fn from_wire(name: &Name) -> Labels {
    name.iter().map(|l| l.to_ascii_lowercase()).collect()
}

/// The labels of a dotted name Cloud Map stores (`cm.test`, `_http._tcp`, an instance id), lowercased
/// the way Route 53 stores names. `.` and the empty string are the zone apex (no labels). `None` when
/// the name cannot be a DNS name (an empty or over-long label), so nothing is published for it.
pub fn from_dotted(name: &str) -> Option<Labels> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    trimmed
        .split('.')
        .map(|l| (!l.is_empty() && l.len() <= MAX_LABEL).then(|| l.as_bytes().to_ascii_lowercase()))
        .collect()
}

/// `prefix` followed by `suffix` (a name below `suffix`).
pub fn join(prefix: &[Vec<u8>], suffix: &[Vec<u8>]) -> Labels {
    prefix.iter().chain(suffix.iter()).cloned().collect()
}

/// Whether `name` equals `zone` or lies below it (at a label boundary).
pub fn is_within(name: &[Vec<u8>], zone: &[Vec<u8>]) -> bool {
    name.ends_with(zone)
}

/// The labels of `name` left of `zone` (`name` must be within `zone`).
pub fn relative<'a>(name: &'a [Vec<u8>], zone: &[Vec<u8>]) -> &'a [Vec<u8>] {
    &name[..name.len().saturating_sub(zone.len())]
}

/// The fully qualified wire name of `labels`; `None` when it would exceed 255 octets.
pub fn to_wire(labels: &[Vec<u8>]) -> Option<Name> {
    Name::from_labels(labels.iter().map(|l| l.as_slice())).ok()
}

/// The dotted presentation of `labels` for logs.
pub fn display(labels: &[Vec<u8>]) -> String {
    if labels.is_empty() {
        return ".".to_string();
    }
    labels.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names_become_lowercase_labels() {
        assert_eq!(from_dotted("Cm.Test."), Some(vec![b"cm".to_vec(), b"test".to_vec()]));
        assert_eq!(from_dotted("."), Some(vec![]));
        assert_eq!(from_dotted("_http._tcp"), Some(vec![b"_http".to_vec(), b"_tcp".to_vec()]));
        assert_eq!(from_dotted("a..b"), None);
        assert_eq!(from_dotted(&"x".repeat(64)), None);
    }

    #[test]
    fn zone_membership_is_at_label_boundaries() {
        let zone = from_dotted("cm.test").unwrap_or_default();
        let inside = from_dotted("web.cm.test").unwrap_or_default();
        let outside = from_dotted("web.xcm.test").unwrap_or_default();
        assert!(is_within(&inside, &zone));
        assert!(!is_within(&outside, &zone));
        assert_eq!(relative(&inside, &zone), &[b"web".to_vec()][..]);
        assert_eq!(display(&inside), "web.cm.test");
    }

    #[test]
    fn odd_instance_ids_stay_raw_labels() {
        let labels = from_dotted("i@1").unwrap_or_default();
        let name = to_wire(&labels);
        assert_eq!(name.map(|n| n.iter().next().map(|l| l.to_vec())), Some(Some(b"i@1".to_vec())));
        let long: Labels = (0..10).map(|_| vec![b'a'; 60]).collect();
        assert!(to_wire(&long).is_none(), "over 255 octets");
    }
}
