//! The active expiry cycle of one shard: every 100 ms, sweep tables holding
//! volatile keys for at most ~1 ms, yielding so no connection waits behind it;
//! then let the allocator return pages freed a while ago.

use crate::clock::unix_ms;
use crate::runtime::core::Core;
use std::rc::Rc;
use std::time::{Duration, Instant};

const CYCLE: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_millis(1);
/// Tables visited per slice before checking the clock and yielding.
const TABLES_PER_SLICE: usize = 256;

pub async fn active_expiry_loop(core: Rc<Core>) {
    while !core.stop().is_stopped() {
        glommio::timer::sleep(CYCLE).await;
        let start = Instant::now();
        loop {
            let now = unix_ms();
            let removed = core
                .shard()
                .borrow_mut()
                .active_expire(now, TABLES_PER_SLICE, || start.elapsed() >= BUDGET);
            if removed == 0 || start.elapsed() >= BUDGET {
                break;
            }
            glommio::yield_if_needed().await;
        }
        crate::cmd::memory::allocator::decay();
    }
}
