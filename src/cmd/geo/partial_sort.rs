//! Redis's partial quicksort (`pqsort.c`, Bentley and McIlroy's
//! "Engineering a Sort Function" with ranges), which GEOSEARCH uses when
//! COUNT keeps fewer results than it found: only the first COUNT places
//! come out sorted, and equal distances (and NaNs) land where this exact
//! sequence of comparisons and swaps puts them. It is deterministic, so
//! reproducing the algorithm step by step reproduces Redis's order.
//!
//! Pure and allocation-free; the comparison is the caller's (Redis's
//! `sort_gp_asc` / `sort_gp_desc`, see [`super::search`]).

use std::cmp::Ordering;

/// Sorts `v` as `pqsort(v, len, cmp, 0, last)` does: at least
/// `v[..=last]` ends up in order (the rest is partitioned around it).
pub fn partial_sort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, last: usize) {
    sort_part(v, 0, cmp, last);
}

/// The median of three places, as `med3` picks it.
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    use Ordering::*;
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

/// Swaps the `n` places from `a` with the `n` from `b`, in order (`vecswap`).
fn swap_run<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// `_pqsort` over `v`, which starts at place `base` of the whole array;
/// `last` is the last place (of the whole array) that must be sorted.
fn sort_part<T>(mut v: &mut [T], mut base: usize, cmp: &impl Fn(&T, &T) -> Ordering, last: usize) {
    use Ordering::*;
    loop {
        let n = v.len();
        if n < 7 {
            for m in 1..n {
                let mut l = m;
                while l > 0 && cmp(&v[l - 1], &v[l]) == Greater {
                    v.swap(l, l - 1);
                    l -= 1;
                }
            }
            return;
        }
        let mut pm = n / 2;
        if n > 7 {
            let (mut pl, mut pn) = (0, n - 1);
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(0, pm);
        // Place 0 holds the pivot: [1, pa) and (pd, n) collect its equals,
        // [pa, pb) the smaller, (pc, pd] the greater.
        let (mut pa, mut pb, mut pc, mut pd) = (1, 1, n - 1, n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&v[pb], &v[0]);
                if r == Greater {
                    break;
                }
                if r == Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc], &v[0]);
                if r == Less {
                    break;
                }
                if r == Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        // Move the equals into the middle.
        let r = pa.min(pb - pa);
        swap_run(v, 0, pb - r, r);
        let r = (pd - pc).min(n - pd - 1);
        swap_run(v, pb, n - r, r);
        // The smaller side always starts where this part does, so it always
        // reaches the sorted prefix; the greater side only when it starts
        // at or before `last`.
        let smaller = pb - pa;
        if smaller > 1 {
            sort_part(&mut v[..smaller], base, cmp, last);
        }
        let greater = pd - pc;
        if greater > 1 && base + n - greater <= last {
            base += n - greater;
            v = &mut v[n - greater..];
            continue;
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &(u32, usize), b: &(u32, usize)) -> Ordering {
        a.0.cmp(&b.0)
    }

    #[test]
    fn the_prefix_is_sorted() {
        let mut seed = 7u64;
        for n in [1usize, 2, 6, 7, 8, 40, 41, 100, 500] {
            for last in [0, n / 3, n - 1] {
                let mut v: Vec<(u32, usize)> = (0..n)
                    .map(|i| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (((seed >> 33) % 20) as u32, i)
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by(cmp);
                partial_sort(&mut v, &cmp, last);
                let keys = |s: &[(u32, usize)]| s.iter().map(|x| x.0).collect::<Vec<_>>();
                assert_eq!(
                    keys(&v[..=last]),
                    keys(&sorted[..=last]),
                    "n {n} last {last}"
                );
                let mut ids: Vec<usize> = v.iter().map(|x| x.1).collect();
                ids.sort();
                assert_eq!(ids, (0..n).collect::<Vec<_>>());
            }
        }
    }
}
