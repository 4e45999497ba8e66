//! An order-statistic B+tree of small `Copy` handles, ordered by whatever
//! the caller's predicates say (the big sorted set keeps member-node
//! pointers here and compares by dereferencing them, see skiplist.rs).
//!
//! The tree never compares items itself: every search takes a monotone
//! predicate `before(item)` (true for a prefix of the order, false after)
//! and finds the boundary, so one descent serves insert (`item < new`),
//! lookup (`item <= key`), and the score and lex ranks.
//!
//! Layout: leaves hold up to [`LEAF_CAP`] items (512 bytes, a size class
//! of its own); inner nodes hold up to [`INNER_CAP`] children, with each
//! child's item count and its first item (the separator the descent
//! compares against). No parent pointers: paths live on the stack.
//!
//! Splits: a full node splits in the middle, except at the two ends of the
//! whole tree, where an append (or prepend) starts a new node, so keys that
//! arrive in order (timestamps) fill their nodes completely.
//!
//! Invariants: every leaf is at the same depth; every node holds at least
//! one entry; a node a removal leaves under a third of its capacity is
//! merged with a sibling or takes entries from it (so only the nodes on
//! the tree's two edges can stay thinner); `mins[i]` is exactly the first item
//! of child `i` and `counts[i]` exactly its item count; an inner root has
//! at least two children; `leaves` and `inners` count the allocated nodes.
//! The tree never dereferences or frees the items it holds.

use smallvec::SmallVec;

/// Items per leaf: 8 bytes of header + 63 × 8 = 512 bytes.
pub const LEAF_CAP: usize = 63;
/// Children per inner node: 8 + 15 × (8 + 8 + 16) = 488 bytes.
pub const INNER_CAP: usize = 15;
/// A removal that leaves a node with fewer entries than a third of its
/// capacity rebalances it with a sibling.
const LEAF_MIN: usize = LEAF_CAP / 3;
const INNER_MIN: usize = INNER_CAP / 3;

pub struct Leaf<T> {
    len: usize,
    items: [T; LEAF_CAP],
}

pub struct Inner<T> {
    len: usize,
    counts: [usize; INNER_CAP],
    mins: [T; INNER_CAP],
    kids: [Option<Node<T>>; INNER_CAP],
}

pub enum Node<T> {
    Leaf(Box<Leaf<T>>),
    Inner(Box<Inner<T>>),
}

/// The tree (see the module comment).
pub struct Tree<T> {
    root: Option<Node<T>>,
    len: usize,
    leaves: usize,
    inners: usize,
}

impl<T: Copy + Default> Default for Tree<T> {
    fn default() -> Self {
        Tree {
            root: None,
            len: 0,
            leaves: 0,
            inners: 0,
        }
    }
}

/// Node allocations made or freed by an operation.
#[derive(Default)]
struct Delta {
    leaves: isize,
    inners: isize,
}

impl<T: Copy + Default> Leaf<T> {
    fn new() -> Box<Self> {
        Box::new(Leaf {
            len: 0,
            items: [T::default(); LEAF_CAP],
        })
    }
}

impl<T: Copy + Default> Inner<T> {
    fn new() -> Box<Self> {
        Box::new(Inner {
            len: 0,
            counts: [0; INNER_CAP],
            mins: [T::default(); INNER_CAP],
            kids: [const { None }; INNER_CAP],
        })
    }

    fn total(&self) -> usize {
        self.counts[..self.len].iter().sum()
    }

    /// The child a search for the boundary of `before` enters.
    fn child_for(&self, before: &impl Fn(T) -> bool) -> usize {
        self.mins[..self.len]
            .partition_point(|&m| before(m))
            .saturating_sub(1)
    }

    /// The child holding rank `r` and the rank within it.
    fn child_at(&self, mut r: usize) -> (usize, usize) {
        for i in 0..self.len {
            if r < self.counts[i] {
                return (i, r);
            }
            r -= self.counts[i];
        }
        (self.len - 1, self.counts[self.len - 1])
    }

    fn kid(&self, i: usize) -> &Node<T> {
        self.kids[i].as_ref().expect("a live child")
    }

    fn kid_mut(&mut self, i: usize) -> &mut Node<T> {
        self.kids[i].as_mut().expect("a live child")
    }

    /// Recomputes child `i`'s separator and count.
    fn refresh(&mut self, i: usize) {
        let (min, count) = {
            let k = self.kid(i);
            (k.min(), k.count())
        };
        self.mins[i] = min;
        self.counts[i] = count;
    }

    /// Puts `node` at child position `at`, shifting the later ones right.
    fn insert_kid(&mut self, at: usize, node: Node<T>) {
        let n = self.len;
        self.counts[at..=n].rotate_right(1);
        self.mins[at..=n].rotate_right(1);
        self.kids[at..=n].rotate_right(1);
        self.kids[at] = Some(node);
        self.len += 1;
        self.refresh(at);
    }
}

impl<T: Copy + Default> Node<T> {
    fn min(&self) -> T {
        match self {
            Node::Leaf(l) => l.items[0],
            Node::Inner(n) => n.mins[0],
        }
    }

    fn count(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len,
            Node::Inner(n) => n.total(),
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(l) => l.len < LEAF_MIN,
            Node::Inner(n) => n.len < INNER_MIN,
        }
    }
}

/// Which ends of the whole tree a node lies on (left, right).
type Edges = (bool, bool);

/// Where a full node of `cap` entries splits for an insert at `at`: at the
/// end when appending at the tree's right edge, at the start when
/// prepending at its left edge, else in the middle.
fn split_point(at: usize, cap: usize, edges: Edges) -> usize {
    if at == cap && edges.1 {
        cap
    } else if at == 0 && edges.0 {
        0
    } else {
        cap / 2
    }
}

/// Moves `src[..k]` to `dst[dlen..dlen + k]`, closing the gap in `src`.
fn move_front<U: Default>(dst: &mut [U], dlen: usize, src: &mut [U], slen: usize, k: usize) {
    for i in 0..k {
        dst[dlen + i] = std::mem::take(&mut src[i]);
    }
    src[..slen].rotate_left(k);
}

/// Moves `src[slen - k..slen]` to the front of `dst` (of `dlen` entries).
fn move_back<U: Default>(dst: &mut [U], dlen: usize, src: &mut [U], slen: usize, k: usize) {
    dst[..dlen + k].rotate_right(k);
    for i in 0..k {
        dst[i] = std::mem::take(&mut src[slen - k + i]);
    }
}

/// Evens out siblings `a` and `b` (adjacent, `a` first): merges `b` into
/// `a` when both fit one node (true), else shares the entries evenly.
fn balance<T: Copy + Default>(a: &mut Node<T>, b: &mut Node<T>) -> bool {
    match (a, b) {
        (Node::Leaf(a), Node::Leaf(b)) => {
            let (na, nb) = (a.len, b.len);
            let (want, merged) = if na + nb <= LEAF_CAP {
                (na + nb, true)
            } else {
                ((na + nb) / 2, false)
            };
            if na < want {
                move_front(&mut a.items, na, &mut b.items, nb, want - na);
            } else {
                move_back(&mut b.items, nb, &mut a.items, na, na - want);
            }
            b.len = na + nb - want;
            a.len = want;
            merged
        }
        (Node::Inner(a), Node::Inner(b)) => {
            let (na, nb) = (a.len, b.len);
            let (want, merged) = if na + nb <= INNER_CAP {
                (na + nb, true)
            } else {
                ((na + nb) / 2, false)
            };
            if na < want {
                let k = want - na;
                move_front(&mut a.counts, na, &mut b.counts, nb, k);
                move_front(&mut a.mins, na, &mut b.mins, nb, k);
                move_front(&mut a.kids, na, &mut b.kids, nb, k);
            } else {
                let k = na - want;
                move_back(&mut b.counts, nb, &mut a.counts, na, k);
                move_back(&mut b.mins, nb, &mut a.mins, na, k);
                move_back(&mut b.kids, nb, &mut a.kids, na, k);
            }
            b.len = na + nb - want;
            a.len = want;
            merged
        }
        // Siblings are always at the same depth.
        _ => unreachable!("siblings of different kinds"),
    }
}

/// Inserts `x` at the boundary of `before` under `node`; returns the new
/// right sibling when `node` split.
fn insert_in<T: Copy + Default>(
    node: &mut Node<T>,
    x: T,
    before: &impl Fn(T) -> bool,
    edges: Edges,
    d: &mut Delta,
) -> Option<Node<T>> {
    match node {
        Node::Leaf(l) => {
            let at = l.items[..l.len].partition_point(|&y| before(y));
            if l.len < LEAF_CAP {
                l.items[at..=l.len].rotate_right(1);
                l.items[at] = x;
                l.len += 1;
                return None;
            }
            let s = split_point(at, LEAF_CAP, edges);
            let mut r = Leaf::new();
            r.items[..LEAF_CAP - s].copy_from_slice(&l.items[s..]);
            r.len = LEAF_CAP - s;
            l.len = s;
            let (side, pos) = if at < s || s == 0 {
                (&mut *l, at)
            } else {
                (&mut r, at - s)
            };
            side.items[pos..=side.len].rotate_right(1);
            side.items[pos] = x;
            side.len += 1;
            d.leaves += 1;
            Some(Node::Leaf(r))
        }
        Node::Inner(n) => {
            let c = n.child_for(before);
            let kid_edges = (edges.0 && c == 0, edges.1 && c + 1 == n.len);
            let split = insert_in(n.kid_mut(c), x, before, kid_edges, d);
            n.refresh(c);
            let new = split?;
            let at = c + 1;
            if n.len < INNER_CAP {
                n.insert_kid(at, new);
                return None;
            }
            let s = split_point(at, INNER_CAP, edges);
            let mut r = Inner::new();
            move_front(
                &mut r.counts,
                0,
                &mut n.counts[s..],
                INNER_CAP - s,
                INNER_CAP - s,
            );
            move_front(
                &mut r.mins,
                0,
                &mut n.mins[s..],
                INNER_CAP - s,
                INNER_CAP - s,
            );
            move_front(
                &mut r.kids,
                0,
                &mut n.kids[s..],
                INNER_CAP - s,
                INNER_CAP - s,
            );
            r.len = INNER_CAP - s;
            n.len = s;
            if at < s || s == 0 {
                n.insert_kid(at, new);
            } else {
                r.insert_kid(at - s, new);
            }
            d.inners += 1;
            Some(Node::Inner(r))
        }
    }
}

/// Removes the last item that satisfies `before` under `node` (when it is
/// `x`, or any when `x` is None, where `before` then counts ranks: see
/// [`Tree::remove_at`]). Returns the item removed.
fn remove_in<T: Copy + Default + PartialEq>(
    node: &mut Node<T>,
    target: Target<'_, T>,
    d: &mut Delta,
) -> Option<T> {
    match node {
        Node::Leaf(l) => {
            let at = match target {
                Target::Item(x, before) => {
                    let at = l.items[..l.len].partition_point(|&y| before(y));
                    if at == 0 || l.items[at - 1] != x {
                        return None;
                    }
                    at - 1
                }
                Target::Rank(r) => r,
            };
            if at >= l.len {
                return None;
            }
            let got = l.items[at];
            l.items[at..l.len].rotate_left(1);
            l.len -= 1;
            Some(got)
        }
        Node::Inner(n) => {
            let (c, sub) = match target {
                Target::Item(x, before) => (n.child_for(&before), Target::Item(x, before)),
                Target::Rank(r) => {
                    let (c, r) = n.child_at(r);
                    (c, Target::Rank(r))
                }
            };
            let got = remove_in(n.kid_mut(c), sub, d)?;
            n.counts[c] -= 1;
            if n.kid(c).underfull() && n.len > 1 {
                let a = if c + 1 < n.len { c } else { c - 1 };
                let (left, right) = n.kids.split_at_mut(a + 1);
                let (ka, kb) = (
                    left[a].as_mut().expect("a live child"),
                    right[0].as_mut().expect("a live child"),
                );
                if balance(ka, kb) {
                    match n.kids[a + 1].take() {
                        Some(Node::Leaf(_)) => d.leaves -= 1,
                        Some(Node::Inner(_)) => d.inners -= 1,
                        None => {}
                    }
                    let len = n.len;
                    n.counts[a + 1..len].rotate_left(1);
                    n.mins[a + 1..len].rotate_left(1);
                    n.kids[a + 1..len].rotate_left(1);
                    n.len -= 1;
                    n.refresh(a);
                } else {
                    n.refresh(a);
                    n.refresh(a + 1);
                }
            } else if n.counts[c] > 0 {
                n.mins[c] = n.kid(c).min();
            }
            Some(got)
        }
    }
}

/// What [`remove_in`] looks for.
#[derive(Clone, Copy)]
enum Target<'a, T> {
    /// This item, found by the boundary of `item <= x`.
    Item(T, &'a dyn Fn(T) -> bool),
    /// The item of this rank.
    Rank(usize),
}

impl<T: Copy + Default + PartialEq> Tree<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes of the tree's own nodes.
    pub fn heap_bytes(&self) -> usize {
        self.leaves * std::mem::size_of::<Leaf<T>>() + self.inners * std::mem::size_of::<Inner<T>>()
    }

    /// Allocated leaves and inner nodes.
    #[cfg(test)]
    pub fn node_counts(&self) -> (usize, usize) {
        (self.leaves, self.inners)
    }

    fn apply(&mut self, d: Delta) {
        self.leaves = self.leaves.wrapping_add_signed(d.leaves);
        self.inners = self.inners.wrapping_add_signed(d.inners);
    }

    /// A tree of `items`, already in order, in full nodes (the last two of
    /// each level sharing evenly).
    pub fn from_sorted(items: &[T]) -> Tree<T> {
        let mut t = Tree::default();
        if items.is_empty() {
            return t;
        }
        t.len = items.len();
        let mut level: Vec<Node<T>> = spread(items.len(), LEAF_CAP)
            .scan(0, |at, n| {
                let mut l = Leaf::new();
                l.items[..n].copy_from_slice(&items[*at..*at + n]);
                l.len = n;
                *at += n;
                Some(Node::Leaf(l))
            })
            .collect();
        t.leaves = level.len();
        while level.len() > 1 {
            let mut kids = level.into_iter();
            level = spread(kids.len(), INNER_CAP)
                .map(|n| {
                    let mut inner = Inner::new();
                    for k in kids.by_ref().take(n) {
                        let at = inner.len;
                        inner.insert_kid(at, k);
                    }
                    Node::Inner(inner)
                })
                .collect();
            t.inners += level.len();
        }
        t.root = level.pop();
        t
    }

    /// Inserts `x` where `before` turns false (`before(y)` is `y < x`).
    pub fn insert(&mut self, x: T, before: impl Fn(T) -> bool) {
        let mut d = Delta::default();
        match self.root.as_mut() {
            None => {
                let mut l = Leaf::new();
                l.items[0] = x;
                l.len = 1;
                self.root = Some(Node::Leaf(l));
                d.leaves += 1;
            }
            Some(root) => {
                if let Some(right) = insert_in(root, x, &before, (true, true), &mut d) {
                    let mut top = Inner::new();
                    let left = self.root.take().expect("a root");
                    top.insert_kid(0, left);
                    top.insert_kid(1, right);
                    self.root = Some(Node::Inner(top));
                    d.inners += 1;
                }
            }
        }
        self.len += 1;
        self.apply(d);
    }

    /// Removes `x`, found where `not_after` (`y <= x`) turns false; false
    /// when it is not there.
    pub fn remove(&mut self, x: T, not_after: impl Fn(T) -> bool) -> bool {
        self.remove_target(Target::Item(x, &not_after)).is_some()
    }

    /// Removes and returns the item of rank `r`.
    pub fn remove_at(&mut self, r: usize) -> Option<T> {
        if r >= self.len {
            return None;
        }
        self.remove_target(Target::Rank(r))
    }

    fn remove_target(&mut self, target: Target<'_, T>) -> Option<T> {
        let mut d = Delta::default();
        let got = remove_in(self.root.as_mut()?, target, &mut d)?;
        self.len -= 1;
        // Shrink from the top: an inner root of one child, an empty leaf.
        loop {
            match self.root.take() {
                Some(Node::Inner(mut n)) if n.len == 1 => {
                    self.root = n.kids[0].take();
                    d.inners -= 1;
                }
                Some(Node::Leaf(l)) if l.len == 0 => d.leaves -= 1,
                other => {
                    self.root = other;
                    break;
                }
            }
        }
        self.apply(d);
        Some(got)
    }

    /// How many items satisfy `before` (a prefix of the order).
    pub fn count(&self, before: impl Fn(T) -> bool) -> usize {
        let mut sum = 0;
        let mut node = self.root.as_ref();
        while let Some(n) = node {
            match n {
                Node::Leaf(l) => return sum + l.items[..l.len].partition_point(|&y| before(y)),
                Node::Inner(n) => {
                    let c = n.child_for(&before);
                    sum += n.counts[..c].iter().sum::<usize>();
                    node = Some(n.kid(c));
                }
            }
        }
        sum
    }

    /// The item of rank `r`.
    pub fn at(&self, r: usize) -> Option<T> {
        if r >= self.len {
            return None;
        }
        let mut r = r;
        let mut node = self.root.as_ref()?;
        loop {
            match node {
                Node::Leaf(l) => return l.items[..l.len].get(r).copied(),
                Node::Inner(n) => {
                    let (c, sub) = n.child_at(r);
                    r = sub;
                    node = n.kid(c);
                }
            }
        }
    }

    /// Items of ranks `start..end`, ascending, or descending from `end - 1`
    /// when `reverse`.
    pub fn range(&self, start: usize, end: usize, reverse: bool) -> Range<'_, T> {
        let end = end.min(self.len);
        let start = start.min(end);
        let mut it = Range {
            path: SmallVec::new(),
            leaf: None,
            at: 0,
            left: end - start,
            reverse,
        };
        if it.left == 0 {
            return it;
        }
        let mut r = if reverse { end - 1 } else { start };
        let mut node = self.root.as_ref();
        while let Some(n) = node {
            match n {
                Node::Leaf(l) => {
                    it.leaf = Some(&**l);
                    it.at = r;
                    node = None;
                }
                Node::Inner(n) => {
                    let (c, sub) = n.child_at(r);
                    it.path.push((&**n, c));
                    r = sub;
                    node = Some(n.kid(c));
                }
            }
        }
        it
    }

    /// Every item in order.
    pub fn iter(&self) -> Range<'_, T> {
        self.range(0, self.len, false)
    }
}

/// `n` entries cut into the fewest nodes of at most `cap`, sizes differing
/// by at most one.
fn spread(n: usize, cap: usize) -> impl ExactSizeIterator<Item = usize> {
    let parts = n.div_ceil(cap).max(1);
    (0..parts).map(move |i| n / parts + usize::from(i < n % parts))
}

mod range;
#[cfg(test)]
mod tests;

pub use range::Range;
