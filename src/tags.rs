//! Tags, as every service stores them: one ordered set of key → value pairs per resource, kept in
//! the order keys were first added (Cloud Map lists them that way; a map-shaped API sorts them).
//! Stored as a JSON array of `[key, value]` pairs; a JSON object (what MSK Connect stored before)
//! reads as the same set.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The tags of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<(String, String)>);

/// Why a set of tags is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagProblem {
    /// A key starts with `aws:`, which AWS keeps for itself.
    Reserved(String),
    /// More distinct keys than the resource may carry.
    TooMany {
        /// How many it would have.
        count: usize,
        /// How many it may have.
        limit: usize,
    },
}

impl Tags {
    /// Tags from pairs in the order given; a key given twice keeps its last value at its first place.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Tags {
        let mut tags = Tags::default();
        tags.set_all(pairs);
        tags
    }

    /// Sets each key to its value: existing keys keep their place, new ones go last.
    pub fn set_all(&mut self, pairs: impl IntoIterator<Item = (String, String)>) {
        for (k, v) in pairs {
            match self.0.iter_mut().find(|(key, _)| *key == k) {
                Some(existing) => existing.1 = v,
                None => self.0.push((k, v)),
            }
        }
    }

    /// Removes the keys named.
    pub fn remove_all(&mut self, keys: &[String]) {
        self.0.retain(|(k, _)| !keys.contains(k));
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The tags as a map (APIs whose tags are a map).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }

    /// Checks the rules every AWS API applies: no `aws:` keys, at most `limit` keys.
    pub fn check(&self, limit: usize) -> Result<(), TagProblem> {
        if let Some((k, _)) = self.0.iter().find(|(k, _)| k.starts_with("aws:")) {
            return Err(TagProblem::Reserved(k.clone()));
        }
        if self.0.len() > limit {
            return Err(TagProblem::TooMany { count: self.0.len(), limit });
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Pairs(Vec<(String, String)>),
            Map(BTreeMap<String, String>),
        }
        Ok(match Stored::deserialize(d)? {
            Stored::Pairs(p) => Tags::from_pairs(p),
            Stored::Map(m) => Tags(m.into_iter().collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn keys_keep_their_first_place() {
        let mut t = Tags::from_pairs(pairs(&[("b", "1"), ("a", "2")]));
        t.set_all(pairs(&[("a", "3"), ("c", "4")]));
        assert_eq!(t.iter().collect::<Vec<_>>(), [("b", "1"), ("a", "3"), ("c", "4")]);
        t.remove_all(&["b".to_string()]);
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"[["a","3"],["c","4"]]"#);
    }

    #[test]
    fn both_stored_forms_read() {
        let a: Tags = serde_json::from_str(r#"[["k","v"],["j","w"]]"#).unwrap();
        let b: Tags = serde_json::from_str(r#"{"j":"w","k":"v"}"#).unwrap();
        assert_eq!(a.to_map(), b.to_map());
        assert_eq!(a.iter().next(), Some(("k", "v")));
    }

    #[test]
    fn rules() {
        assert_eq!(Tags::from_pairs(pairs(&[("aws:x", "1")])).check(50), Err(TagProblem::Reserved("aws:x".into())));
        let many = Tags::from_pairs((0..51).map(|i| (i.to_string(), String::new())));
        assert_eq!(many.check(50), Err(TagProblem::TooMany { count: 51, limit: 50 }));
        assert_eq!(many.check(51), Ok(()));
    }
}
