//! Edits of a document addressed by RFC 6901 JSON pointers
//! (`/metadata/labels/app.kubernetes.io~1name`), as guests send them.
//!
//! The host applies them to the documents it keeps; the guest SDK's
//! native test backend applies them the same way, so a guest's unit test
//! and a real run agree on what an edit does.

use serde_json::{Map, Value};

/// One edit of a document's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Set the value at the pointer, creating mappings on the way.
    Set(String, Value),
    /// Remove the value at the pointer; nothing if it is absent.
    Remove(String),
    /// Merge an object into the mapping at the pointer, key by key (`null`
    /// removes a key), creating the mapping if absent.
    Merge(String, Map<String, Value>),
}

/// Why an edit or a read could not be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerError(pub String);

impl std::fmt::Display for PointerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PointerError {}

/// The tokens of a pointer: `""` is the whole document, `/a/b` is `a`,
/// then `b`; `~1` is `/` and `~0` is `~`.
pub fn tokens(pointer: &str) -> Result<Vec<String>, PointerError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PointerError(format!(
            "pointer {pointer:?} must be empty or start with `/`"
        )));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => out.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(PointerError(format!(
                                "pointer {pointer:?} has a `~` not followed by 0 or 1"
                            )));
                        }
                    },
                }
            }
            Ok(out)
        })
        .collect()
}

/// Escapes one key for use in a pointer.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The value at `pointer`, if any.
pub fn get<'a>(
    content: &'a Map<String, Value>,
    pointer: &str,
) -> Result<Option<&'a Value>, PointerError> {
    let tokens = tokens(pointer)?;
    let Some((first, rest)) = tokens.split_first() else {
        return Err(PointerError(
            "use `content` for the whole document; a pointer names a field".to_owned(),
        ));
    };
    let mut current = match content.get(first) {
        Some(value) => value,
        None => return Ok(None),
    };
    for token in rest {
        current = match current {
            Value::Object(map) => match map.get(token) {
                Some(value) => value,
                None => return Ok(None),
            },
            Value::Array(items) => match index(token, items.len())? {
                Some(i) if i < items.len() => &items[i],
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
    }
    Ok(Some(current))
}

/// Applies `edit` to `content`. Returns whether the content changed.
pub fn apply(content: &mut Map<String, Value>, edit: &Edit) -> Result<bool, PointerError> {
    match edit {
        Edit::Set(pointer, value) => {
            let (parent, last) = parent_of(content, pointer, true)?;
            set_in(parent, &last, value.clone(), pointer)
        }
        Edit::Remove(pointer) => {
            if get(content, pointer)?.is_none() {
                return Ok(false);
            }
            let (parent, last) = parent_of(content, pointer, false)?;
            remove_in(parent, &last)
        }
        Edit::Merge(pointer, updates) => {
            let mut changed = false;
            for (key, value) in updates {
                let path = format!("{pointer}/{}", escape(key));
                changed |= if value.is_null() {
                    apply(content, &Edit::Remove(path))?
                } else {
                    apply(content, &Edit::Set(path, value.clone()))?
                };
            }
            if updates.is_empty() {
                let (parent, last) = parent_of(content, pointer, true)?;
                if let Container::Map(map) = parent
                    && !map.contains_key(&last)
                {
                    map.insert(last, Value::Object(Map::new()));
                    changed = true;
                }
            }
            Ok(changed)
        }
    }
}

enum Container<'a> {
    Map(&'a mut Map<String, Value>),
    List(&'a mut Vec<Value>),
}

/// The container holding the pointer's last token, and that token;
/// `create` makes missing mappings on the way.
fn parent_of<'a>(
    content: &'a mut Map<String, Value>,
    pointer: &str,
    create: bool,
) -> Result<(Container<'a>, String), PointerError> {
    let mut tokens = tokens(pointer)?;
    let Some(last) = tokens.pop() else {
        return Err(PointerError(
            "use `replace` for the whole document; a pointer names a field".to_owned(),
        ));
    };
    let mut current = Container::Map(content);
    for (depth, token) in tokens.iter().enumerate() {
        let at = || {
            let walked: Vec<String> = tokens[..=depth].iter().map(|t| escape(t)).collect();
            format!("/{}", walked.join("/"))
        };
        current = match current {
            Container::Map(map) => {
                // A missing or null field is an empty mapping to write into,
                // as Kubernetes reads `annotations: null`.
                if create && map.get(token).is_none_or(Value::is_null) {
                    map.insert(token.clone(), Value::Object(Map::new()));
                }
                match map.get_mut(token) {
                    Some(Value::Object(next)) => Container::Map(next),
                    Some(Value::Array(next)) => Container::List(next),
                    Some(_) => {
                        return Err(PointerError(format!(
                            "{} is a scalar; {pointer} cannot go through it",
                            at()
                        )));
                    }
                    None => return Err(PointerError(format!("{} does not exist", at()))),
                }
            }
            Container::List(items) => {
                let len = items.len();
                match index(token, len)?.and_then(|i| items.get_mut(i)) {
                    Some(Value::Object(next)) => Container::Map(next),
                    Some(Value::Array(next)) => Container::List(next),
                    Some(_) => {
                        return Err(PointerError(format!(
                            "{} is a scalar; {pointer} cannot go through it",
                            at()
                        )));
                    }
                    None => {
                        return Err(PointerError(format!(
                            "{} is past the end of a list of {len}",
                            at()
                        )));
                    }
                }
            }
        };
    }
    Ok((current, last))
}

fn set_in(
    parent: Container<'_>,
    last: &str,
    value: Value,
    pointer: &str,
) -> Result<bool, PointerError> {
    match parent {
        Container::Map(map) => {
            if map.get(last) == Some(&value) {
                return Ok(false);
            }
            map.insert(last.to_owned(), value);
            Ok(true)
        }
        Container::List(items) => {
            // `-` appends, as in RFC 6902.
            if last == "-" {
                items.push(value);
                return Ok(true);
            }
            match index(last, items.len())? {
                Some(i) if i < items.len() => {
                    if items[i] == value {
                        return Ok(false);
                    }
                    items[i] = value;
                    Ok(true)
                }
                Some(i) if i == items.len() => {
                    items.push(value);
                    Ok(true)
                }
                _ => Err(PointerError(format!(
                    "{pointer} is past the end of a list of {}",
                    items.len()
                ))),
            }
        }
    }
}

fn remove_in(parent: Container<'_>, last: &str) -> Result<bool, PointerError> {
    match parent {
        Container::Map(map) => Ok(map.shift_remove(last).is_some()),
        Container::List(items) => match index(last, items.len())? {
            Some(i) if i < items.len() => {
                items.remove(i);
                Ok(true)
            }
            _ => Ok(false),
        },
    }
}

/// A list index token: digits without a leading zero.
fn index(token: &str, len: usize) -> Result<Option<usize>, PointerError> {
    if token == "-" {
        return Ok(Some(len));
    }
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if !valid {
        return Err(PointerError(format!(
            "`{token}` is not a list index (digits, no leading zero, or `-`)"
        )));
    }
    Ok(token.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Map<String, Value> {
        match json!({"metadata": {"name": "a", "labels": {"x/y": "1"}}, "spec": {"list": [1, {"k": "v"}], "n": 3}})
        {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn reads_follow_rfc_6901() {
        let d = doc();
        assert_eq!(get(&d, "/metadata/name").unwrap(), Some(&json!("a")));
        assert_eq!(get(&d, "/metadata/labels/x~1y").unwrap(), Some(&json!("1")));
        assert_eq!(get(&d, "/spec/list/1/k").unwrap(), Some(&json!("v")));
        assert_eq!(get(&d, "/spec/list/7").unwrap(), None);
        assert_eq!(get(&d, "/spec/n/deeper").unwrap(), None);
        assert!(get(&d, "metadata").is_err());
        assert!(get(&d, "/spec/list/01").is_err());
        assert!(get(&d, "/a~2").is_err());
    }

    #[test]
    fn edits_change_what_they_name_and_say_whether_anything_changed() {
        let mut d = doc();
        assert!(
            apply(
                &mut d,
                &Edit::Set("/metadata/labels/team".into(), json!("infra"))
            )
            .unwrap()
        );
        assert!(
            !apply(
                &mut d,
                &Edit::Set("/metadata/labels/team".into(), json!("infra"))
            )
            .unwrap()
        );
        d["metadata"]["annotations"] = Value::Null;
        assert!(
            apply(
                &mut d,
                &Edit::Set("/metadata/annotations/a".into(), json!(1))
            )
            .unwrap()
        );
        assert_eq!(d["metadata"]["annotations"], json!({"a": 1}));
        assert!(apply(&mut d, &Edit::Set("/spec/list/-".into(), json!(3))).unwrap());
        assert!(apply(&mut d, &Edit::Remove("/spec/list/0".into())).unwrap());
        assert_eq!(d["spec"]["list"], json!([{"k": "v"}, 3]));
        assert!(!apply(&mut d, &Edit::Remove("/spec/missing/deep".into())).unwrap());
        let merge = Edit::Merge(
            "/metadata/labels".into(),
            match json!({"x/y": null, "b": "2"}) {
                Value::Object(m) => m,
                _ => unreachable!(),
            },
        );
        assert!(apply(&mut d, &merge).unwrap());
        assert_eq!(d["metadata"]["labels"], json!({"team": "infra", "b": "2"}));
        let through_scalar = apply(&mut d, &Edit::Set("/spec/n/x".into(), json!(1))).unwrap_err();
        assert!(
            through_scalar.0.contains("/spec/n is a scalar"),
            "{through_scalar}"
        );
        assert!(apply(&mut d, &Edit::Set("".into(), json!(1))).is_err());
        assert!(apply(&mut d, &Edit::Set("/spec/list/9".into(), json!(1))).is_err());
    }
}
