//! The documents a step was given. They stay on the host: a [`Document`] is
//! a handle with its identity (path, apiVersion, kind, name, namespace)
//! known up front; fields are read from the host when asked for, edits are
//! queued and sent in one batch, and a whole document crosses only when a
//! step reads or replaces all of it.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use mooring_model::airship::{self, Kind};
use mooring_model::pointer::{self, Edit};
use mooring_model::{OneOf, Selector, one_of};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Error;

/// Who a document is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) path: String,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

impl Header {
    pub(crate) fn of(path: &str, content: &Map<String, Value>) -> Self {
        use mooring_model::Object;
        Header {
            path: path.to_owned(),
            api_version: content.api_version().to_owned(),
            kind: content.kind().to_owned(),
            name: content.name().to_owned(),
            namespace: content.namespace().to_owned(),
        }
    }
}

/// Where documents live: the host's document set in a real run, an
/// in-memory one in a guest's native unit tests.
pub(crate) trait Backend {
    fn headers(&self) -> Vec<Header>;
    fn get(&self, doc: u32, pointer: &str) -> Result<Option<String>, String>;
    fn content(&self, doc: u32) -> Result<String, String>;
    fn apply(&self, patches: &[(u32, Edit)]) -> Result<(), String>;
    fn replace(&self, doc: u32, content: &str) -> Result<(), String>;
    fn remove(&self, doc: u32) -> Result<(), String>;
    fn move_to(&self, doc: u32, path: &str) -> Result<(), String>;
    fn add(&self, path: &str, content: &str) -> Result<u32, String>;
}

/// The documents a step was given: the ones its pipeline step selected.
///
/// Iterate with [`iter`](Self::iter); find the one document of a kind with
/// [`find_one`](Self::find_one); add one with [`add`](Self::add). Edits are
/// sent to the host in one batch when the step returns (or before the next
/// read, so a step always reads its own writes).
pub struct Documents<'a> {
    backend: &'a dyn Backend,
    headers: RefCell<Vec<Rc<Header>>>,
    removed: RefCell<HashSet<u32>>,
    pending: RefCell<Vec<(u32, Edit)>>,
    /// The first error a batch of edits met, reported when the step returns.
    failed: RefCell<Option<String>>,
}

impl<'a> Documents<'a> {
    pub(crate) fn new(backend: &'a dyn Backend) -> Self {
        let headers = backend.headers().into_iter().map(Rc::new).collect();
        Documents {
            backend,
            headers: RefCell::new(headers),
            removed: RefCell::new(HashSet::new()),
            pending: RefCell::new(Vec::new()),
            failed: RefCell::new(None),
        }
    }

    /// How many documents the step has (removed ones not counted).
    pub fn len(&self) -> usize {
        self.headers.borrow().len() - self.removed.borrow().len()
    }

    /// True when the step has no documents.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every document, in order; removed ones are skipped.
    pub fn iter(&self) -> impl Iterator<Item = Document<'_, 'a>> + '_ {
        let count = self.headers.borrow().len() as u32;
        (0..count).filter_map(move |index| self.get(index))
    }

    /// The document at `index`, unless it was removed.
    pub fn get(&self, index: u32) -> Option<Document<'_, 'a>> {
        if self.removed.borrow().contains(&index) {
            return None;
        }
        let header = self.headers.borrow().get(index as usize)?.clone();
        Some(Document {
            set: self,
            index,
            header,
        })
    }

    /// The documents of kind `T`.
    pub fn of_kind<T: Kind>(&self) -> impl Iterator<Item = Document<'_, 'a>> + '_ {
        self.iter()
            .filter(|d| d.kind() == T::KIND && d.api_version() == T::API_VERSION)
    }

    /// The one document of kind `T`, read: `None` when there is none, an
    /// error naming two when there are more.
    pub fn find_one<T: Kind>(&self) -> Result<Option<(Document<'_, 'a>, T)>, Error> {
        match one_of(self.of_kind::<T>()) {
            OneOf::None => Ok(None),
            OneOf::One(doc) => {
                let typed = doc.parse()?;
                Ok(Some((doc, typed)))
            }
            OneOf::Many(many) => Err(Error::msg(format!(
                "found two {} documents, {} and {}; a site has one",
                T::KIND,
                many[0].describe(),
                many[1].describe()
            ))),
        }
    }

    /// Adds a document at `path` (bundle-relative, `.yaml`).
    pub fn add(&self, path: &str, content: Map<String, Value>) -> Result<Document<'_, 'a>, Error> {
        self.flush();
        let json = Value::Object(content.clone()).to_string();
        let index = self.backend.add(path, &json).map_err(Error::msg)?;
        let header = Rc::new(Header::of(path, &content));
        let mut headers = self.headers.borrow_mut();
        if headers.len() != index as usize {
            return Err(Error::msg(format!(
                "the host gave the new document index {index}, expected {}",
                headers.len()
            )));
        }
        headers.push(header.clone());
        Ok(Document {
            set: self,
            index,
            header,
        })
    }

    /// Adds a typed document, for example a [`PhasePlan`](crate::airship::PhasePlan).
    pub fn add_typed<T: Kind>(&self, path: &str, value: &T) -> Result<Document<'_, 'a>, Error> {
        self.add(path, airship::to_content(value)?)
    }

    /// Sends the queued edits; an error is kept for [`finish`](Self::finish).
    fn flush(&self) {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return;
        }
        if let Err(e) = self.backend.apply(&pending) {
            self.failed.borrow_mut().get_or_insert(e);
        }
    }

    /// Sends what is still queued; the first error any batch met.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        self.flush();
        match self.failed.borrow_mut().take() {
            Some(e) => Err(Error::msg(e)),
            None => Ok(()),
        }
    }

    fn queue(&self, index: u32, edit: Edit) {
        self.pending.borrow_mut().push((index, edit));
    }
}

/// One document of a step: a handle. Its identity is known; fields come
/// from the host when read; edits are queued.
#[derive(Clone)]
pub struct Document<'s, 'a> {
    set: &'s Documents<'a>,
    index: u32,
    header: Rc<Header>,
}

impl std::fmt::Debug for Document<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<'s, 'a> Document<'s, 'a> {
    /// Its index in the step's set: what results name it by.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Bundle-relative path of its file.
    pub fn path(&self) -> &str {
        &self.header.path
    }

    /// `apiVersion`, or `""`.
    pub fn api_version(&self) -> &str {
        &self.header.api_version
    }

    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        &self.header.kind
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        &self.header.name
    }

    /// `metadata.namespace`, or `""`.
    pub fn namespace(&self) -> &str {
        &self.header.namespace
    }

    /// True when the document has this `kind` and `metadata.name`.
    pub fn is(&self, kind: &str, name: &str) -> bool {
        self.kind() == kind && self.name() == name
    }

    /// `Kind/name (path)`, how messages name a document.
    pub fn describe(&self) -> String {
        format!("{}/{} ({})", self.kind(), self.name(), self.path())
    }

    /// True for a kustomize `kustomization.yaml` (or `.yml`), or a document
    /// of kind `Kustomization`.
    pub fn is_kustomization(&self) -> bool {
        let file = self.path().rsplit('/').next().unwrap_or_default();
        self.kind() == "Kustomization" || matches!(file, "kustomization.yaml" | "kustomization.yml")
    }

    /// True for a Kubernetes object: it has an `apiVersion` and a `kind`,
    /// and is not one of kustomize's own files (a kustomization, a
    /// component, a transformer configuration), which name resources
    /// rather than being one.
    pub fn is_object(&self) -> bool {
        !self.api_version().is_empty()
            && !self.kind().is_empty()
            && !self.is_kustomization()
            && !self.api_version().starts_with("kustomize.config.k8s.io/")
    }

    /// The value at an RFC 6901 pointer (`/spec/replicas`), if any.
    pub fn get(&self, pointer: &str) -> Option<Value> {
        self.set.flush();
        let json = self.set.backend.get(self.index, pointer).ok()??;
        serde_json::from_str(&json).ok()
    }

    /// The string at an RFC 6901 pointer, if there is a string there.
    pub fn get_str(&self, pointer: &str) -> Option<String> {
        match self.get(pointer)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<String> {
        self.get_str(&format!("/metadata/labels/{}", pointer::escape(key)))
    }

    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.get_str(&format!("/metadata/annotations/{}", pointer::escape(key)))
    }

    /// True when the document satisfies every condition of `selector`;
    /// labels and annotations are read only when the selector names some.
    pub fn matches(&self, selector: &Selector) -> bool {
        let field = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        field(&selector.api_version, self.api_version())
            && field(&selector.kind, self.kind())
            && field(&selector.name, self.name())
            && field(&selector.namespace, self.namespace())
            && selector
                .labels
                .iter()
                .all(|(k, v)| self.label(k).as_deref() == Some(v))
            && selector
                .annotations
                .iter()
                .all(|(k, v)| self.annotation(k).as_deref() == Some(v))
    }

    /// The whole document.
    pub fn content(&self) -> Result<Map<String, Value>, Error> {
        self.set.flush();
        let json = self.set.backend.content(self.index).map_err(Error::msg)?;
        match serde_json::from_str(&json)? {
            Value::Object(map) => Ok(map),
            _ => Err(Error::msg(format!("{} is not an object", self.describe()))),
        }
    }

    /// The document read as a `T`, or an error naming it when it is of
    /// another kind or a field does not fit.
    ///
    /// ```no_run
    /// # use mooring_guest::prelude::*;
    /// # fn f(doc: &Document) -> Result<(), Error> {
    /// use mooring_guest::airship::PhasePlan;
    /// let plan: PhasePlan = doc.parse()?;
    /// # Ok(()) }
    /// ```
    pub fn parse<T: Kind>(&self) -> Result<T, Error> {
        airship::parse(&self.content()?).map_err(|e| Error::msg(format!("{} {e}", self.describe())))
    }

    /// Set the value at an RFC 6901 pointer, creating mappings on the way.
    pub fn set(&self, pointer: &str, value: impl Serialize) -> Result<(), Error> {
        let value = serde_json::to_value(value)?;
        self.set
            .queue(self.index, Edit::Set(pointer.to_owned(), value));
        Ok(())
    }

    /// Set label `key` to `value`.
    pub fn set_label(&self, key: &str, value: &str) {
        let pointer = format!("/metadata/labels/{}", pointer::escape(key));
        self.set
            .queue(self.index, Edit::Set(pointer, Value::from(value)));
    }

    /// Set annotation `key` to `value`.
    pub fn set_annotation(&self, key: &str, value: &str) {
        let pointer = format!("/metadata/annotations/{}", pointer::escape(key));
        self.set
            .queue(self.index, Edit::Set(pointer, Value::from(value)));
    }

    /// Remove the value at an RFC 6901 pointer, if there is one.
    pub fn remove_field(&self, pointer: &str) {
        self.set.queue(self.index, Edit::Remove(pointer.to_owned()));
    }

    /// Merge `updates` into the mapping at an RFC 6901 pointer (a `null`
    /// value removes the key).
    pub fn merge(&self, pointer: &str, updates: Map<String, Value>) {
        self.set
            .queue(self.index, Edit::Merge(pointer.to_owned(), updates));
    }

    /// Replace the whole document.
    pub fn replace(&self, content: Map<String, Value>) -> Result<(), Error> {
        self.set.flush();
        let json = Value::Object(content).to_string();
        self.set
            .backend
            .replace(self.index, &json)
            .map_err(Error::msg)
    }

    /// Replace the content with a typed value (its `apiVersion` and `kind`
    /// included).
    pub fn store<T: Kind>(&self, value: &T) -> Result<(), Error> {
        self.replace(airship::to_content(value)?)
    }

    /// Remove the document from the bundle.
    pub fn remove(&self) -> Result<(), Error> {
        self.set.flush();
        self.set.backend.remove(self.index).map_err(Error::msg)?;
        self.set.removed.borrow_mut().insert(self.index);
        Ok(())
    }

    /// Move the document to the file at `path`.
    pub fn move_to(&self, path: &str) -> Result<(), Error> {
        self.set.flush();
        self.set
            .backend
            .move_to(self.index, path)
            .map_err(Error::msg)?;
        let mut header = (*self.header).clone();
        header.path = path.to_owned();
        self.set.headers.borrow_mut()[self.index as usize] = Rc::new(header);
        Ok(())
    }
}

/// The host's document set, in a real run.
impl Backend for crate::bindings::mooring::step::documents::DocumentSet {
    fn headers(&self) -> Vec<Header> {
        crate::bindings::mooring::step::documents::DocumentSet::headers(self)
            .into_iter()
            .map(|h| Header {
                path: h.path,
                api_version: h.api_version,
                kind: h.kind,
                name: h.name,
                namespace: h.namespace,
            })
            .collect()
    }

    fn get(&self, doc: u32, pointer: &str) -> Result<Option<String>, String> {
        crate::bindings::mooring::step::documents::DocumentSet::get(self, doc, pointer)
    }

    fn content(&self, doc: u32) -> Result<String, String> {
        crate::bindings::mooring::step::documents::DocumentSet::content(self, doc)
    }

    fn apply(&self, patches: &[(u32, Edit)]) -> Result<(), String> {
        use crate::bindings::mooring::step::types::{Edit as WitEdit, Patch};
        let patches: Vec<Patch> = patches
            .iter()
            .map(|(doc, edit)| Patch {
                doc: *doc,
                edit: match edit {
                    Edit::Set(pointer, value) => WitEdit::Set((pointer.clone(), value.to_string())),
                    Edit::Remove(pointer) => WitEdit::Remove(pointer.clone()),
                    Edit::Merge(pointer, map) => {
                        WitEdit::Merge((pointer.clone(), Value::Object(map.clone()).to_string()))
                    }
                },
            })
            .collect();
        crate::bindings::mooring::step::documents::DocumentSet::apply(self, &patches)
    }

    fn replace(&self, doc: u32, content: &str) -> Result<(), String> {
        crate::bindings::mooring::step::documents::DocumentSet::replace(self, doc, content)
    }

    fn remove(&self, doc: u32) -> Result<(), String> {
        crate::bindings::mooring::step::documents::DocumentSet::remove(self, doc)
    }

    fn move_to(&self, doc: u32, path: &str) -> Result<(), String> {
        crate::bindings::mooring::step::documents::DocumentSet::move_to(self, doc, path)
    }

    fn add(&self, path: &str, content: &str) -> Result<u32, String> {
        crate::bindings::mooring::step::documents::DocumentSet::add(self, path, content)
    }
}
