//! The call graph over the window, as the dashboard shows it: who calls a function and what
//! it calls (the detail's panel), and the tree from the roots (the call graph screen), with
//! each node's calls, total busy time and self busy time on its parent's behalf.

use std::collections::HashSet;
use std::sync::Arc;

use super::rows::Row;
use crate::frame::CallerEdge;
use crate::words::names::ROOT_CALLER;

/// Levels the tree opens at most (a longer chain is cut, as recursion is).
const MAX_DEPTH: usize = 24;

/// What the tree orders siblings by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum TreeSort {
    /// Busy time on the parent's behalf, the callee's callees included.
    #[default]
    Total,
    /// Busy time in the callee's own code.
    SelfTime,
}

impl TreeSort {
    /// The other order.
    pub(crate) fn toggled(self) -> TreeSort {
        match self {
            TreeSort::Total => TreeSort::SelfTime,
            TreeSort::SelfTime => TreeSort::Total,
        }
    }

    /// The order in a word, for the screen's title.
    pub(crate) fn label(self) -> &'static str {
        match self {
            TreeSort::Total => "total",
            TreeSort::SelfTime => "self",
        }
    }
}

/// One function of the tree and the calls into it from its parent.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TreeLine {
    /// Levels below a root (roots are 0).
    pub(crate) depth: usize,
    /// The path from the root, the key that keeps the line open across frames.
    pub(crate) path: String,
    /// The function, fully qualified.
    pub(crate) name: Arc<str>,
    /// The service it runs in.
    pub(crate) service: Arc<str>,
    /// The edge from the parent (from `(root)` for a root).
    pub(crate) edge: CallerEdge,
    /// Whether it calls measured functions.
    pub(crate) has_children: bool,
    /// Whether its children are shown.
    pub(crate) expanded: bool,
    /// It calls itself further up the path: not opened again.
    pub(crate) recursive: bool,
}

/// One function of the graph: its service, its qualified name and the edges into it over
/// the window (a row's, kept apart so the graph outlives the filter).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) service: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) callers: Vec<CallerEdge>,
}

impl Node {
    /// The node of a row.
    pub(crate) fn of(row: &Row) -> Node {
        Node {
            service: row.series.service.clone(),
            name: row.qualified().into(),
            callers: row.callers.clone(),
        }
    }
}

fn edges_of(node: &Node) -> &[CallerEdge] {
    &node.callers
}

/// The functions `caller` calls in `service`, each with the edge from it, most busy first.
pub(crate) fn callees<'a>(
    rows: &'a [Node],
    service: &str,
    caller: &str,
) -> Vec<(&'a Node, &'a CallerEdge)> {
    let mut out: Vec<(&Node, &CallerEdge)> = rows
        .iter()
        .filter(|r| &*r.service == service)
        .filter_map(|r| {
            edges_of(r)
                .iter()
                .find(|e| &*e.caller == caller)
                .map(|e| (r, e))
        })
        .collect();
    out.sort_by(|a, b| {
        b.1.busy
            .total_cmp(&a.1.busy)
            .then_with(|| a.1.caller.cmp(&b.1.caller))
    });
    out
}

/// The visible lines of the tree: the roots (functions with calls from `(root)`), and
/// under each open line the functions it calls.
pub(crate) fn tree(rows: &[Node], expanded: &HashSet<String>, sort: TreeSort) -> Vec<TreeLine> {
    let mut lines = Vec::new();
    let mut roots: Vec<(&Node, &CallerEdge)> = rows
        .iter()
        .filter_map(|r| {
            edges_of(r)
                .iter()
                .find(|e| &*e.caller == ROOT_CALLER)
                .map(|e| (r, e))
        })
        .collect();
    order(&mut roots, sort);
    for (row, edge) in roots {
        let mut on_path = Vec::new();
        open(
            rows,
            row,
            edge,
            0,
            String::new(),
            expanded,
            sort,
            &mut on_path,
            &mut lines,
        );
    }
    lines
}

fn order(nodes: &mut [(&Node, &CallerEdge)], sort: TreeSort) {
    let key = |e: &CallerEdge| match sort {
        TreeSort::Total => e.busy,
        TreeSort::SelfTime => e.self_busy,
    };
    nodes.sort_by(|a, b| {
        key(b.1)
            .total_cmp(&key(a.1))
            .then_with(|| a.0.name.cmp(&b.0.name))
    });
}

#[allow(clippy::too_many_arguments)]
fn open(
    rows: &[Node],
    row: &Node,
    edge: &CallerEdge,
    depth: usize,
    parent_path: String,
    expanded: &HashSet<String>,
    sort: TreeSort,
    on_path: &mut Vec<Arc<str>>,
    lines: &mut Vec<TreeLine>,
) {
    let name = row.name.clone();
    let path = format!("{parent_path}/{}/{name}", row.service);
    let recursive = on_path.contains(&name);
    let mut children = if recursive || depth + 1 >= MAX_DEPTH {
        Vec::new()
    } else {
        callees(rows, &row.service, &name)
    };
    let is_open = expanded.contains(&path) && !children.is_empty();
    lines.push(TreeLine {
        depth,
        path: path.clone(),
        name: name.clone(),
        service: row.service.clone(),
        edge: edge.clone(),
        has_children: !children.is_empty(),
        expanded: is_open,
        recursive,
    });
    if !is_open {
        return;
    }
    order(&mut children, sort);
    on_path.push(name);
    for (child, e) in children {
        open(
            rows,
            child,
            e,
            depth + 1,
            path.clone(),
            expanded,
            sort,
            on_path,
            lines,
        );
    }
    on_path.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, callers: &[(&str, u64, f64, f64)]) -> Node {
        Node {
            service: "svc".into(),
            name: name.into(),
            callers: callers
                .iter()
                .map(|&(caller, calls, busy, self_busy)| CallerEdge {
                    caller: caller.into(),
                    calls,
                    wall: busy,
                    busy,
                    self_busy,
                })
                .collect(),
        }
    }

    #[test]
    fn recursion_is_shown_once_and_not_opened_again() {
        let graph = vec![node(
            "a::walk",
            &[(ROOT_CALLER, 1, 4.0, 1.0), ("a::walk", 3, 3.0, 3.0)],
        )];
        let closed = tree(&graph, &HashSet::new(), TreeSort::Total);
        assert_eq!(closed.len(), 1);
        assert!(closed[0].has_children && !closed[0].expanded);
        let open: HashSet<String> = [closed[0].path.clone()].into();
        let lines = tree(&graph, &open, TreeSort::Total);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].recursive, "{lines:?}");
        assert_eq!((lines[1].depth, lines[1].edge.calls), (1, 3));
    }

    #[test]
    fn callees_are_found_by_the_callers_name_in_the_same_service() {
        let mut other = node("a::leaf", &[("a::top", 9, 1.0, 1.0)]);
        other.service = "elsewhere".into();
        let graph = vec![
            node("a::top", &[(ROOT_CALLER, 2, 5.0, 2.0)]),
            node("a::leaf", &[("a::top", 4, 2.0, 2.0)]),
            node("a::mid", &[("a::top", 1, 3.0, 0.5)]),
            other,
        ];
        let callees: Vec<(&str, u64)> = callees(&graph, "svc", "a::top")
            .iter()
            .map(|(n, e)| (&*n.name, e.calls))
            .collect();
        assert_eq!(
            callees,
            [("a::mid", 1), ("a::leaf", 4)],
            "the most busy first"
        );
        let open: HashSet<String> = ["/svc/a::top".to_owned()].into();
        let lines = tree(&graph, &open, TreeSort::SelfTime);
        let by_self: Vec<&str> = lines.iter().map(|l| &*l.name).collect();
        assert_eq!(by_self, ["a::top", "a::leaf", "a::mid"]);
    }
}
