//! Micro-benchmarks: RESP parsing and reply encoding, a shard executing
//! GET/SET, and the cost of a cross-core hop through glommio's shared channels
//! (one item per message versus a batch of 64).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringkv::cmd::{run_on_shard, table, CommandClock};
use ringkv::protocol::{parse_command, Args, Limits, ParseOutcome, ReplyWriter};
use ringkv::shard::Shard;
use ringkv::slot::SlotTable;

fn pipeline(n: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:06}");
        buf.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n$3\r\nxxx\r\n",
                key.len(),
                key
            )
            .as_bytes(),
        );
    }
    buf
}

fn bench_parse(c: &mut Criterion) {
    let buf = pipeline(16);
    let mut g = c.benchmark_group("resp");
    g.throughput(Throughput::Elements(16));
    g.bench_function("parse_16_sets", |b| {
        let (mut inline, mut spans) = (Vec::new(), Vec::new());
        b.iter(|| {
            spans.clear();
            let mut pos = 0;
            while let Ok(ParseOutcome::Command { consumed, .. }) =
                parse_command(&buf, pos, &mut inline, &mut spans, &Limits::default())
            {
                pos += consumed;
            }
            pos
        })
    });
    g.bench_function("encode_16_bulks", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let mut w = ReplyWriter::new(&mut out, false);
            for _ in 0..16 {
                w.bulk(b"some value of moderate size");
            }
            out.len()
        })
    });
    g.finish();
}

fn bench_shard(c: &mut Criterion) {
    let mut shard = Shard::new(0, SlotTable::contiguous(1), 16);
    let set = table::lookup(b"set").unwrap();
    let get = table::lookup(b"get").unwrap();
    let buf = pipeline(1000);
    let (mut inline, mut spans, mut cmds, mut pos) = (Vec::new(), Vec::new(), Vec::new(), 0);
    while let Ok(ParseOutcome::Command { consumed, argc }) =
        parse_command(&buf, pos, &mut inline, &mut spans, &Limits::default())
    {
        cmds.push(spans.len() - argc);
        pos += consumed;
    }
    let mut out = Vec::with_capacity(1 << 16);
    let mut g = c.benchmark_group("shard");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("set_1000", |b| {
        b.iter(|| {
            out.clear();
            let mut clock = CommandClock::start(1);
            for &first in &cmds {
                let args = Args::new(&buf, &inline, &spans[first..first + 3]);
                run_on_shard(
                    &mut shard, set, &args, 0, false, &mut clock, false, &mut out,
                );
            }
        })
    });
    g.bench_function("get_1000", |b| {
        b.iter(|| {
            out.clear();
            let mut clock = CommandClock::start(1);
            for &first in &cmds {
                let args = Args::new(&buf, &inline, &spans[first..first + 2]);
                run_on_shard(
                    &mut shard, get, &args, 0, false, &mut clock, false, &mut out,
                );
            }
        })
    });
    g.finish();
}

/// Round trips between two pinned executors through a pair of shared channels.
fn bench_hop(c: &mut Criterion) {
    use glommio::channels::shared_channel;
    use glommio::{LocalExecutorBuilder, Placement};
    let mut g = c.benchmark_group("hop");
    g.sample_size(10);
    for batch in [1usize, 64] {
        g.throughput(Throughput::Elements(batch as u64 * 1000));
        g.bench_function(format!("round_trips_1000_batch_{batch}"), |b| {
            b.iter_batched(
                || (),
                |_| {
                    let (req_tx, req_rx) = shared_channel::new_bounded::<Vec<u64>>(64);
                    let (resp_tx, resp_rx) = shared_channel::new_bounded::<Vec<u64>>(64);
                    let cpus = ringkv::server::allowed_cpus();
                    let peer_cpu = cpus[cpus.len() - 1];
                    let peer = LocalExecutorBuilder::new(Placement::Fixed(peer_cpu))
                        .io_memory(256 << 10)
                        .spawn(move || async move {
                            let rx = req_rx.connect().await;
                            let tx = resp_tx.connect().await;
                            while let Some(v) = rx.recv().await {
                                let _ = tx.send(v).await;
                            }
                        })
                        .unwrap();
                    LocalExecutorBuilder::new(Placement::Fixed(cpus[0]))
                        .io_memory(256 << 10)
                        .spawn(move || async move {
                            let tx = req_tx.connect().await;
                            let rx = resp_rx.connect().await;
                            for i in 0..1000u64 {
                                let _ = tx.send(vec![i; batch]).await;
                                let _ = rx.recv().await;
                            }
                        })
                        .unwrap()
                        .join()
                        .unwrap();
                    peer.join().unwrap();
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse, bench_shard, bench_hop);
criterion_main!(benches);
