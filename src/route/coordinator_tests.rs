//! The coordinator's rule on the in-process harness (three shards' lock
//! tables, route/harness.rs): ascending order whatever order the keys come
//! in, no deadlock between overlapping multi-shard transactions listed in
//! opposite orders, every lock released on an error, and the variations
//! (whole-shard steps, the lock-free last shard, the riding lock, the
//! all-local shortcut).

use super::coordinator::{Held, LockPlan, Tx, Visit, WHOLE_SHARD_LOCK_KEYS};
use super::harness::{run_to_end, Cluster, Locks};
use crate::cmd::CmdError;
use crate::runtime::locks::lock_id;

fn key(s: usize, name: &str) -> (usize, u64) {
    (s, lock_id(0, name.as_bytes()))
}

#[test]
fn locks_shards_in_ascending_order() {
    let locks = Locks::default();
    let plan = LockPlan::keys([key(2, "c"), key(0, "a"), key(1, "b"), key(2, "d")]);
    assert_eq!(plan.shards().collect::<Vec<_>>(), [0, 1, 2]);
    let at = locks.at(1);
    let tx = run_to_end(Tx::begin(&at, plan));
    let order: Vec<usize> = locks.log.borrow().iter().map(|&(_, s)| s).collect();
    assert_eq!(order, [0, 1, 2]);
    assert_eq!(tx.held(), [0, 1, 2]);
    assert!(!locks.idle());
    tx.release();
    assert!(locks.idle());
}

/// Two transactions over the same keys on shards 0 and 2, their keys listed
/// in opposite orders, started together: each grant yields, so they
/// interleave; ascending order makes the second wait at shard 0 while
/// holding nothing, so both finish (a descending second one would hold 2
/// and wait for 0 while the first holds 0 and waits for 2).
#[test]
fn overlapping_transactions_do_not_deadlock() {
    let locks = Locks::default();
    let (a, b) = (locks.at(0), locks.at(1));
    let done = std::cell::RefCell::new(Vec::new());
    let run = |at, keys: Vec<(usize, u64)>, name| {
        let done = &done;
        async move {
            let tx = Tx::begin(at, LockPlan::keys(keys)).await;
            futures_lite::future::yield_now().await;
            done.borrow_mut().push(name);
            tx.release();
        }
    };
    let first = run(&a, vec![key(0, "x"), key(2, "y")], "first");
    let second = run(&b, vec![key(2, "y"), key(0, "x")], "second");
    run_to_end(futures_lite::future::zip(first, second));
    assert_eq!(*done.borrow(), ["first", "second"]);
    assert!(locks.idle());
    // Every transaction asked its shards in ascending order.
    let log = locks.log.borrow();
    for tx in [log[0].0, log[1].0] {
        let shards: Vec<usize> = log.iter().filter(|e| e.0 == tx).map(|e| e.1).collect();
        assert_eq!(shards, [0, 2], "{log:?}");
    }
}

/// A transaction that ends in an error (the `?` drops it unfinished)
/// releases every lock it took, and the next one gets them.
#[test]
fn an_error_releases_every_lock() {
    let locks = Locks::default();
    let at = locks.at(0);
    async fn failing(at: &super::harness::At<'_>) -> Result<(), CmdError> {
        let tx = Tx::begin(at, LockPlan::keys([key(0, "a"), key(1, "b"), key(2, "c")])).await;
        Err(CmdError::Syntax)?;
        tx.release();
        Ok(())
    }
    assert_eq!(run_to_end(failing(&at)), Err(CmdError::Syntax));
    assert!(locks.idle());
    let tx = run_to_end(Tx::begin(&at, LockPlan::every_shard(3)));
    assert_eq!(tx.held(), [0, 1, 2]);
    drop(tx);
    assert!(locks.idle());
}

/// Past 256 keys a step locks its shards whole; without an AOF its last
/// shard takes nothing and waits for its keys only; with one, it locks too.
#[test]
fn step_visits_lock_whole_past_the_limit_and_spare_the_last_shard() {
    let few = LockPlan::for_step([key(1, "b"), key(0, "a")]);
    assert!(!few.is_whole());
    assert_eq!(
        few.clone().visits(false),
        [
            (
                0,
                Visit::Lock {
                    keys: vec![key(0, "a").1],
                    whole: false
                }
            ),
            (1, Visit::WhenFree(vec![key(1, "b").1])),
        ]
    );
    assert_eq!(few.forwarded(false), Some((0, vec![key(0, "a").1], 1)));
    assert_eq!(few.forwarded(true), None);
    let many =
        LockPlan::for_step((0..=WHOLE_SHARD_LOCK_KEYS).map(|i| key(i % 3, &format!("k{i}"))));
    assert!(many.is_whole());
    assert_eq!(many.forwarded(false), None);
    let visits = many.clone().visits(false);
    assert_eq!(
        visits[0].1,
        Visit::Lock {
            keys: vec![],
            whole: true
        }
    );
    assert!(matches!(&visits[2].1, Visit::WhenFree(k) if !k.is_empty()));
    let with_aof = many.visits(true);
    assert!(with_aof.iter().all(|(_, v)| *v
        == Visit::Lock {
            keys: vec![],
            whole: true
        }));
}

/// A multi-key command's highest remote lock rides on its first op; an
/// EXEC whose keys are all this core's takes no lock.
#[test]
fn riding_lock_and_local_shortcut() {
    let locks = Locks::default();
    let at = locks.at(0);
    let plan = LockPlan::keys([key(2, "c"), key(0, "a")]);
    let (tx, last) = run_to_end(Tx::begin_but_last(&at, plan));
    assert_eq!(last, Some((2, vec![key(2, "c").1])));
    assert_eq!(locks.log.borrow().len(), 1);
    assert_eq!(tx.held(), [0, 2]);
    tx.release();

    let local = LockPlan::keys([key(0, "a"), key(0, "b")]);
    let held = run_to_end(Tx::begin_or_local(&at, local.clone(), true));
    assert!(matches!(held, Held::Local(_)));
    assert_eq!(locks.log.borrow().len(), 1);
    // Not allowed (an AOF, a keyspace-wide command), or keys elsewhere: locks.
    let held = run_to_end(Tx::begin_or_local(&at, local, false));
    assert!(matches!(held, Held::Tx(_)));
    drop(held);
    let spread = LockPlan::keys([key(0, "a"), key(1, "b")]);
    assert!(matches!(
        run_to_end(Tx::begin_or_local(&at, spread, true)),
        Held::Tx(_)
    ));
    assert!(locks.idle());
}

/// MSETNX across three shards, as its declaration runs it: all or nothing.
#[test]
fn guarded_msetnx_across_three_shards() {
    let mut c = Cluster::new(1_000);
    let [a, b, d] = [0, 1, 2].map(|s| c.key_on(s, "n"));
    assert_eq!(c.cmd(&format!("MSETNX {a} 1 {b} 2")), ":1\r\n");
    assert_eq!(c.cmd(&format!("MSETNX {d} 3 {b} 9")), ":0\r\n");
    assert_eq!(c.cmd(&format!("EXISTS {a} {b} {d}")), ":2\r\n");
    assert_eq!(c.cmd(&format!("GET {b}")), "$1\r\n2\r\n");
    assert_eq!(
        c.cmd(&format!("MSETNX {a} 1 {d}")),
        "-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
}
