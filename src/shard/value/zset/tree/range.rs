//! Walking a range of the tree in order, either way.

use super::*;

/// A walk over a rank range (see [`Tree::range`]).
pub struct Range<'a, T> {
    pub(super) path: SmallVec<[(&'a Inner<T>, usize); 8]>,
    pub(super) leaf: Option<&'a Leaf<T>>,
    pub(super) at: usize,
    pub(super) left: usize,
    pub(super) reverse: bool,
}

impl<'a, T: Copy + Default> Range<'a, T> {
    /// Moves to the neighbouring leaf (next, or previous when reversed).
    fn step_leaf(&mut self) -> Option<()> {
        // Climb to the first ancestor with a sibling on our side.
        loop {
            let (n, c) = self.path.last_mut()?;
            let has = if self.reverse { *c > 0 } else { *c + 1 < n.len };
            if has {
                if self.reverse {
                    *c -= 1;
                } else {
                    *c += 1;
                }
                break;
            }
            self.path.pop();
        }
        let (n, c) = *self.path.last()?;
        let mut node = n.kid(c);
        loop {
            match node {
                Node::Leaf(l) => {
                    self.leaf = Some(&**l);
                    self.at = if self.reverse { l.len - 1 } else { 0 };
                    return Some(());
                }
                Node::Inner(n) => {
                    let c = if self.reverse { n.len - 1 } else { 0 };
                    self.path.push((&**n, c));
                    node = n.kid(c);
                }
            }
        }
    }
}

impl<'a, T: Copy + Default> Iterator for Range<'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        let leaf = self.leaf?;
        let x = *leaf.items[..leaf.len].get(self.at)?;
        self.left -= 1;
        if self.left > 0 {
            let at_edge = if self.reverse {
                self.at == 0
            } else {
                self.at + 1 >= leaf.len
            };
            if at_edge {
                if self.step_leaf().is_none() {
                    self.left = 0;
                }
            } else if self.reverse {
                self.at -= 1;
            } else {
                self.at += 1;
            }
        }
        Some(x)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
