//! The taxonomy graph: nodes with names, synonyms, properties, parents and children, and the
//! queries importers run on it (ancestry, deepest nodes, tag-to-id mapping).

use super::load::{self, RawTaxonomy};
use super::tag::{is_prefixed_value, tagify};
use super::{TaxonomyError, TaxonomyType};
use once_cell::sync::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// One taxonomy entry. Names and synonyms are keyed by language code (`xx` is the
/// language-independent entry); properties keep their JSON value (usually `{lang: text}`).
#[derive(Debug, Clone)]
pub struct TaxonomyNode {
    pub id: String,
    pub names: BTreeMap<String, String>,
    pub synonyms: BTreeMap<String, Vec<String>>,
    pub properties: BTreeMap<String, serde_json::Value>,
    parents: Vec<u32>,
    children: Vec<u32>,
}

impl TaxonomyNode {
    /// Name in `lang`, else the `xx` name, else the node id.
    pub fn localized_name(&self, lang: &str) -> &str {
        self.names
            .get(lang)
            .or_else(|| self.names.get("xx"))
            .map(String::as_str)
            .unwrap_or(&self.id)
    }

    /// Synonyms in `lang` (empty when there are none).
    pub fn synonyms_in(&self, lang: &str) -> &[String] {
        self.synonyms.get(lang).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A textual property in `lang`, e.g. `property("agribalyse_food_code", "en")`.
    pub fn property(&self, name: &str, lang: &str) -> Option<&str> {
        self.properties.get(name)?.get(lang)?.as_str()
    }

    /// True when the node has the property, whatever its value.
    pub fn has_property(&self, name: &str) -> bool {
        self.properties.contains_key(name)
    }
}

/// A loaded taxonomy. Nodes keep the order of the file.
#[derive(Debug)]
pub struct Taxonomy {
    nodes: Vec<TaxonomyNode>,
    index: HashMap<String, u32>,
    tag_mapping: OnceCell<HashMap<String, u32>>,
    brand_mapping: OnceCell<HashMap<String, String>>,
}

/// A node together with the taxonomy it belongs to, for walking the graph.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'t> {
    taxonomy: &'t Taxonomy,
    idx: u32,
}

impl<'t> std::ops::Deref for NodeRef<'t> {
    type Target = TaxonomyNode;
    fn deref(&self) -> &TaxonomyNode {
        self.node()
    }
}

impl PartialEq for NodeRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.taxonomy, other.taxonomy) && self.idx == other.idx
    }
}

impl Eq for NodeRef<'_> {}

impl<'t> NodeRef<'t> {
    /// The node data (with the taxonomy's lifetime).
    pub fn node(&self) -> &'t TaxonomyNode {
        // `idx` always comes from the taxonomy's own tables, so it is in range.
        &self.taxonomy.nodes[self.idx as usize]
    }

    pub fn id(&self) -> &'t str {
        &self.node().id
    }

    /// Direct parents, in file order.
    pub fn parents(&self) -> impl Iterator<Item = NodeRef<'t>> + 't {
        let taxonomy = self.taxonomy;
        self.node()
            .parents
            .iter()
            .map(move |&idx| NodeRef { taxonomy, idx })
    }

    /// Direct children, in file order.
    pub fn children(&self) -> impl Iterator<Item = NodeRef<'t>> + 't {
        let taxonomy = self.taxonomy;
        self.node()
            .children
            .iter()
            .map(move |&idx| NodeRef { taxonomy, idx })
    }

    /// All direct and indirect parents, depth first: each parent followed by its own
    /// ancestors, each node listed once.
    pub fn ancestors(&self) -> Vec<NodeRef<'t>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut path = HashSet::from([self.idx]);
        self.collect_ancestors(&mut out, &mut seen, &mut path);
        out
    }

    fn collect_ancestors(
        &self,
        out: &mut Vec<NodeRef<'t>>,
        seen: &mut HashSet<u32>,
        path: &mut HashSet<u32>,
    ) {
        for parent in self.parents() {
            if seen.insert(parent.idx) {
                out.push(parent);
            }
            if path.insert(parent.idx) {
                parent.collect_ancestors(out, seen, path);
                path.remove(&parent.idx);
            }
        }
    }

    /// True when `other` is a direct or indirect parent of `self`.
    pub fn is_child_of(&self, other: NodeRef<'_>) -> bool {
        if !std::ptr::eq(self.taxonomy, other.taxonomy) {
            return false;
        }
        let mut stack: Vec<u32> = self.node().parents.clone();
        let mut seen: HashSet<u32> = HashSet::new();
        while let Some(idx) = stack.pop() {
            if idx == other.idx {
                return true;
            }
            if seen.insert(idx) {
                if let Some(node) = self.taxonomy.nodes.get(idx as usize) {
                    stack.extend(node.parents.iter().copied());
                }
            }
        }
        false
    }

    /// True when `self` is a direct or indirect parent of `candidate`.
    pub fn is_parent_of(&self, candidate: NodeRef<'_>) -> bool {
        candidate.is_child_of(*self)
    }

    /// True when `self` is a parent of at least one of `candidates`.
    pub fn is_parent_of_any<'c>(&self, candidates: impl IntoIterator<Item = NodeRef<'c>>) -> bool {
        candidates.into_iter().any(|c| c.is_child_of(*self))
    }
}

impl Taxonomy {
    /// Loads taxonomy `kind` from `<data_dir>/taxonomies/<stem>.full.json.gz`.
    pub fn load(data_dir: &Path, kind: TaxonomyType) -> Result<Self, TaxonomyError> {
        Self::from_path(&kind.path_in(data_dir))
    }

    /// Loads a taxonomy file (`.json` or gzipped `.json.gz`).
    pub fn from_path(path: &Path) -> Result<Self, TaxonomyError> {
        Ok(Self::from_raw(load::read_file(path)?))
    }

    /// Builds a taxonomy from the JSON text of a taxonomy file.
    pub fn from_json_slice(json: &[u8]) -> Result<Self, TaxonomyError> {
        let raw: RawTaxonomy = serde_json::from_slice(json).map_err(TaxonomyError::ParseJson)?;
        Ok(Self::from_raw(raw))
    }

    fn from_raw(raw: RawTaxonomy) -> Self {
        let mut nodes = Vec::with_capacity(raw.0.len());
        let mut index = HashMap::with_capacity(raw.0.len());
        let mut parent_ids = Vec::with_capacity(raw.0.len());
        for (id, node) in raw.0 {
            if index.contains_key(&id) {
                // A repeated key: the first definition wins, as when the file is read
                // into a dictionary and nodes are created for new keys only.
                continue;
            }
            let Ok(idx) = u32::try_from(nodes.len()) else {
                break;
            };
            index.insert(id.clone(), idx);
            parent_ids.push(node.parents);
            nodes.push(TaxonomyNode {
                id,
                names: node.names,
                synonyms: node.synonyms,
                properties: node.properties,
                parents: Vec::new(),
                children: Vec::new(),
            });
        }
        for (child, parents) in parent_ids.into_iter().enumerate() {
            let Ok(child_idx) = u32::try_from(child) else {
                break;
            };
            for parent_id in parents {
                // Parents missing from the taxonomy are ignored.
                let Some(&parent_idx) = index.get(&parent_id) else {
                    continue;
                };
                let Some(node) = nodes.get_mut(child) else {
                    continue;
                };
                if node.parents.contains(&parent_idx) {
                    continue;
                }
                node.parents.push(parent_idx);
                if let Some(parent) = nodes.get_mut(parent_idx as usize) {
                    parent.children.push(child_idx);
                }
            }
        }
        Self {
            nodes,
            index,
            tag_mapping: OnceCell::new(),
            brand_mapping: OnceCell::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// True when `id` is a node id of the taxonomy.
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// The node with this exact id.
    pub fn get(&self, id: &str) -> Option<NodeRef<'_>> {
        self.index.get(id).map(|&idx| NodeRef {
            taxonomy: self,
            idx,
        })
    }

    /// All nodes in file order.
    pub fn iter(&self) -> impl Iterator<Item = NodeRef<'_>> {
        (0..self.nodes.len()).filter_map(move |i| {
            u32::try_from(i).ok().map(|idx| NodeRef {
                taxonomy: self,
                idx,
            })
        })
    }

    /// True when `parent` is a direct or indirect parent of `child` (false for unknown ids).
    pub fn is_parent_of(&self, parent: &str, child: &str) -> bool {
        match (self.get(parent), self.get(child)) {
            (Some(p), Some(c)) => p.is_parent_of(c),
            _ => false,
        }
    }

    /// True when `item` is a parent of any of `candidates` (unknown candidates are skipped).
    /// An unknown `item` is an error.
    pub fn is_parent_of_any<'a>(
        &self,
        item: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Result<bool, TaxonomyError> {
        let node = self
            .get(item)
            .ok_or_else(|| TaxonomyError::UnknownId(item.to_string()))?;
        Ok(node.is_parent_of_any(candidates.into_iter().filter_map(|c| self.get(c))))
    }

    /// Ids of all direct and indirect parents of `id` (empty for an unknown id).
    pub fn ancestor_ids(&self, id: &str) -> Vec<&str> {
        self.get(id)
            .map(|n| n.ancestors().into_iter().map(|a| a.id()).collect())
            .unwrap_or_default()
    }

    /// Keeps the nodes that are not a parent of another node of the list, in list order
    /// (`[fish, salmon, smoked-salmon]` → `[smoked-salmon]`).
    pub fn find_deepest_nodes<'t>(&'t self, nodes: &[NodeRef<'t>]) -> Vec<NodeRef<'t>> {
        let mut excluded: HashSet<&str> = HashSet::new();
        for node in nodes {
            for other in nodes {
                if other.id() != node.id()
                    && !excluded.contains(other.id())
                    && node.is_child_of(*other)
                {
                    excluded.insert(other.id());
                }
            }
        }
        nodes
            .iter()
            .filter(|n| !excluded.contains(n.id()))
            .copied()
            .collect()
    }

    /// [`Taxonomy::find_deepest_nodes`] on ids; ids unknown to the taxonomy are dropped.
    pub fn find_deepest_ids<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let nodes: Vec<NodeRef<'_>> = ids.into_iter().filter_map(|id| self.get(id)).collect();
        self.find_deepest_nodes(&nodes)
            .into_iter()
            .map(|n| n.id().to_string())
            .collect()
    }

    /// Name of `id` in `lang` (falling back to `xx`, then to the id itself).
    pub fn localized_name<'a>(&'a self, id: &'a str, lang: &str) -> &'a str {
        match self.get(id) {
            Some(node) => node.node().localized_name(lang),
            None => id,
        }
    }

    /// Node id for a language-prefixed tag built from any name or synonym of the node
    /// (`fr:bio-europeen` → `en:organic`). The tag must already be normalised.
    pub fn id_for_tag(&self, tag: &str) -> Option<&str> {
        let mapping = self.tag_mapping.get_or_init(|| self.build_tag_mapping());
        mapping
            .get(tag)
            .and_then(|&idx| self.nodes.get(idx as usize))
            .map(|n| n.id.as_str())
    }

    fn build_tag_mapping(&self) -> HashMap<String, u32> {
        let mut mapping = HashMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let Ok(idx) = u32::try_from(i) else { break };
            for (lang, name) in &node.names {
                mapping.insert(format!("{lang}:{}", tagify(name)).to_lowercase(), idx);
            }
            for (lang, synonyms) in &node.synonyms {
                for synonym in synonyms {
                    mapping.insert(format!("{lang}:{}", tagify(synonym)).to_lowercase(), idx);
                }
            }
        }
        mapping
    }

    /// Canonical id of a `value_tag`: the tag itself when it is a node id, else the node
    /// whose name or synonym gives this tag.
    pub fn match_value<'a>(&'a self, value_tag: &'a str) -> Option<&'a str> {
        if let Some(node) = self.get(value_tag) {
            return Some(node.id());
        }
        self.id_for_tag(value_tag)
    }

    /// Canonical id of a `lang:text` value: direct match of its tag, then the same tag with
    /// the `xx` prefix; `None` when neither is known.
    pub fn canonical_id(&self, value: &str) -> Option<&str> {
        let tag = tagify(value);
        if let Some(id) = self.id_for_tag(&tag) {
            return Some(id);
        }
        let (_, rest) = tag.split_once(':')?;
        self.id_for_tag(&format!("xx:{rest}"))
    }

    /// For the brand taxonomy: unprefixed tag (`nestle`) → display name (`Nestlé`), taken from
    /// the `xx` name, else the `en` name, else the name in the id's language, else the tag.
    pub fn brand_mapping(&self) -> &HashMap<String, String> {
        self.brand_mapping.get_or_init(|| {
            let mut mapping = HashMap::new();
            // An unprefixed id reuses the language of the previous prefixed id, as the
            // reference implementation does.
            let mut prefix = String::new();
            for node in &self.nodes {
                let mut key = node.id.as_str();
                if is_prefixed_value(&node.id) {
                    prefix = node.id.chars().take(2).collect();
                    key = node
                        .id
                        .char_indices()
                        .nth(3)
                        .and_then(|(i, _)| node.id.get(i..))
                        .unwrap_or("");
                }
                let name = node
                    .names
                    .get("xx")
                    .or_else(|| node.names.get("en"))
                    .or_else(|| node.names.get(&prefix))
                    .cloned()
                    .unwrap_or_else(|| key.to_string());
                mapping.insert(key.to_string(), name);
            }
            mapping
        })
    }
}
