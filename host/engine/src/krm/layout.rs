//! Where a ResourceList spells each of its items, found by a line scan, so
//! the answer can be written item by item: an untouched item keeps its
//! bytes, a changed one is edited on its own, and no syntax tree or value
//! of the whole list is ever built (a 100,000-item list cost 1.3 GiB that
//! way). Only the block style kpt and kustomize write is recognised
//! (`items:` at column 0, then `- ` items, all at one indentation); for
//! anything else the caller edits the list as one document. Every piece is
//! checked by the caller before it is used, so a scan that guessed wrong
//! costs time, never meaning.

use std::ops::Range;

/// The items of a ResourceList, as spans of its text.
#[derive(Debug)]
pub(super) struct Layout {
    /// From the start of the `items:` line to the end of the last item.
    pub(super) block: Range<usize>,
    /// Blank and comment lines between `items:` and the first item.
    pub(super) header: Range<usize>,
    /// Each item, from its `- ` line to the next item or the block's end.
    pub(super) items: Vec<Range<usize>>,
    /// Column of the items' `-`.
    dash: usize,
}

/// A line's indentation in spaces, or `None` for a blank or comment line
/// (or one indented with a tab, which the scan does not read).
fn indent(line: &str) -> Option<usize> {
    let content = line.trim_start_matches(' ');
    if content.trim().is_empty() || content.starts_with('#') {
        return None;
    }
    Some(line.len() - content.len())
}

impl Layout {
    /// The layout of `text`, when it is plainly written.
    pub(super) fn find(text: &str) -> Option<Layout> {
        if text.contains('\r') || text.contains('\t') {
            return None;
        }
        let is_items_key = |line: &str| {
            line.strip_prefix("items:")
                .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
        };
        let mut lines = text.split_inclusive('\n').scan(0, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        });
        let (block_start, key_line) = lines.by_ref().find(|(_, line)| is_items_key(line))?;
        // Another `items:` line at column 0: which one is the key is not
        // for a line scan to say.
        if text[block_start + key_line.len()..]
            .split_inclusive('\n')
            .any(is_items_key)
        {
            return None;
        }
        let header_start = block_start + key_line.len();
        let mut layout = Layout {
            block: block_start..text.len(),
            header: header_start..header_start,
            items: Vec::new(),
            dash: 0,
        };
        for (start, line) in lines {
            let Some(column) = indent(line) else {
                if layout.items.is_empty() {
                    layout.header.end = start + line.len();
                }
                continue;
            };
            let opens_item = line[column..].starts_with("- ") && line.len() > column + 2;
            if layout.items.is_empty() {
                if !opens_item {
                    // `items:` holds no block sequence: nothing to split.
                    return (column == 0).then(|| {
                        layout.block.end = start;
                        layout
                    });
                }
                layout.dash = column;
            }
            if opens_item && column == layout.dash {
                layout.close_item(start);
                layout.items.push(start..text.len());
            } else if column < layout.dash || (column == 0 && !opens_item) {
                layout.close_item(start);
                layout.block.end = start;
                return Some(layout);
            } else if column < layout.dash + 2 {
                return None;
            }
        }
        Some(layout)
    }

    fn close_item(&mut self, at: usize) {
        if let Some(last) = self.items.last_mut() {
            last.end = at;
        }
    }

    /// Item `span` of `text` as a document of its own: the `- ` and the
    /// item's indentation taken off every line. `None` when a line is
    /// indented less than the item (other than blank and comment lines).
    pub(super) fn item_text(&self, text: &str, span: &Range<usize>) -> Option<String> {
        let inner = self.dash + 2;
        let mut out = String::with_capacity(span.len());
        let mut lines = text[span.clone()].split_inclusive('\n');
        out.push_str(lines.next()?.get(inner..)?);
        for line in lines {
            match line.get(..inner) {
                Some(prefix) if prefix.bytes().all(|b| b == b' ') => out.push_str(&line[inner..]),
                _ if line.trim().is_empty() => out.push_str(&line[line.trim_end().len()..]),
                _ if line.trim_start().starts_with('#') => out.push_str(line.trim_start()),
                _ => return None,
            }
        }
        Some(out)
    }

    /// A document's text indented back as an item of this list.
    pub(super) fn as_item(&self, document: &str) -> String {
        let inner = " ".repeat(self.dash + 2);
        let mut out = String::with_capacity(document.len() + document.len() / 8);
        for (n, line) in document.split_inclusive('\n').enumerate() {
            if n == 0 {
                out.push_str(&inner[..self.dash]);
                out.push_str("- ");
            } else if line != "\n" {
                out.push_str(&inner);
            }
            out.push_str(line);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Layout;

    const LIST: &str = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n# the site\n- kind: A\n  data:\n    script: |\n      - not an item\n\n      done\n-   kind: B\n  # a comment\nfunctionConfig:\n  kind: ConfigMap\n";

    #[test]
    fn items_are_found_with_their_comments_and_block_scalars() {
        let layout = Layout::find(LIST).expect("a plain list");
        let items: Vec<&str> = layout.items.iter().map(|s| &LIST[s.clone()]).collect();
        assert_eq!(
            items,
            [
                "- kind: A\n  data:\n    script: |\n      - not an item\n\n      done\n",
                "-   kind: B\n  # a comment\n"
            ]
        );
        assert_eq!(&LIST[layout.header.clone()], "# the site\n");
        assert!(LIST[layout.block.end..].starts_with("functionConfig:"));
        let first = layout.item_text(LIST, &layout.items[0]).unwrap();
        assert_eq!(
            first,
            "kind: A\ndata:\n  script: |\n    - not an item\n\n    done\n"
        );
        assert_eq!(layout.as_item(&first), items[0]);
    }

    #[test]
    fn indented_items_and_lists_without_items_are_read_too() {
        let text = "items:\n  - a: 1\n    b: 2\n  - c: 3\nkind: ResourceList\n";
        let layout = Layout::find(text).unwrap();
        assert_eq!(layout.items.len(), 2);
        assert_eq!(
            layout.item_text(text, &layout.items[0]).unwrap(),
            "a: 1\nb: 2\n"
        );
        assert_eq!(layout.as_item("a: 1\nb: 2\n"), "  - a: 1\n    b: 2\n");
        let empty = Layout::find("items:\nkind: ResourceList\n").unwrap();
        assert!(empty.items.is_empty());
    }

    #[test]
    fn what_a_line_scan_cannot_read_is_left_alone() {
        for text in [
            "items: [{a: 1}]\n",
            "items:\n- a: 1\n items: 2\n",
            "items:\n- a: 1\nitems:\n- b: 2\n",
            "items:\r\n- a: 1\r\n",
            "items:\n-\ta: 1\n",
            "items:\n  - a: 1\n   b: 2\n",
        ] {
            assert!(Layout::find(text).is_none(), "{text:?}");
        }
    }
}
