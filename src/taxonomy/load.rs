//! Reading `*.full.json(.gz)` taxonomy files into raw nodes, keeping the file's node order.

use super::TaxonomyError;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// One node as written in the file (children are derived from parents, so they are skipped).
#[derive(Debug, Default)]
pub(super) struct RawNode {
    pub names: BTreeMap<String, String>,
    pub synonyms: BTreeMap<String, Vec<String>>,
    pub parents: Vec<String>,
    pub properties: BTreeMap<String, serde_json::Value>,
}

/// All nodes of a file, in file order.
pub(super) struct RawTaxonomy(pub Vec<(String, RawNode)>);

/// Reads a taxonomy file, gunzipping it when it starts with the gzip magic bytes.
pub(super) fn read_file(path: &Path) -> Result<RawTaxonomy, TaxonomyError> {
    let bytes = std::fs::read(path).map_err(|source| TaxonomyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let json = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 8);
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| TaxonomyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(|source| TaxonomyError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

impl<'de> Deserialize<'de> for RawTaxonomy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodesVisitor;
        impl<'de> Visitor<'de> for NodesVisitor {
            type Value = RawTaxonomy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object mapping node ids to nodes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTaxonomy, A::Error> {
                let mut nodes = Vec::with_capacity(map.size_hint().unwrap_or(1024));
                while let Some((id, node)) = map.next_entry::<String, RawNode>()? {
                    nodes.push((id, node));
                }
                Ok(RawTaxonomy(nodes))
            }
        }
        deserializer.deserialize_map(NodesVisitor)
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a taxonomy node object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
                let mut node = RawNode::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => {
                            let names: Option<BTreeMap<String, Option<String>>> =
                                map.next_value()?;
                            node.names = names
                                .unwrap_or_default()
                                .into_iter()
                                .filter_map(|(lang, name)| name.map(|n| (lang, n)))
                                .collect();
                        }
                        "synonyms" => {
                            let synonyms: Option<BTreeMap<String, Vec<String>>> =
                                map.next_value()?;
                            node.synonyms = synonyms.unwrap_or_default();
                        }
                        "parents" => {
                            let parents: Option<Vec<String>> = map.next_value()?;
                            node.parents = parents.unwrap_or_default();
                        }
                        "children" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            let value: serde_json::Value = map.next_value()?;
                            node.properties.insert(key, value);
                        }
                    }
                }
                Ok(node)
            }
        }
        deserializer.deserialize_map(NodeVisitor)
    }
}
