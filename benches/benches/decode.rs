//! B1 decode timing: client-core's `SseDecoder` (fed a `Stream` of `Bytes` like its peers, and
//! fed slices) against `eventsource-stream` and `sse-stream`, on every corpus and chunking (see `sdk_benches::corpus`).
//!
//! `cargo bench -p sdk-benches --bench decode`; `SDK_BENCH_QUICK=1` for CI's short run.
//! A case whose first pass takes longer than the skip threshold (400 ms; quick: 40 ms) is not
//! given to criterion: `sdk-bench run` reports its single, time-boxed pass instead.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use sdk_benches::corpus::{Chunking, Corpus, Shape};
use sdk_benches::decoders::Contender;

fn quick() -> bool {
    std::env::var("SDK_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn decode(c: &mut Criterion) {
    let skip_after = if quick() {
        Duration::from_millis(40)
    } else {
        Duration::from_millis(400)
    };
    for shape in Shape::ALL {
        let corpus = Corpus::new(shape);
        let mut group = c.benchmark_group(format!("b1_{}", shape.name()));
        group.throughput(Throughput::Bytes(corpus.bytes.len() as u64));
        group.sampling_mode(SamplingMode::Flat);
        if quick() {
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(50))
                .measurement_time(Duration::from_millis(200));
        } else {
            group
                .sample_size(20)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3));
        }
        for chunking in Chunking::ALL {
            let chunks = corpus.chunks(chunking);
            for contender in Contender::ALL {
                let probe = contender.decode_within(&chunks, skip_after);
                if !probe.finished || probe.elapsed > skip_after {
                    eprintln!(
                        "b1: {} {} {}: one pass takes more than {skip_after:?}; left to sdk-bench run",
                        shape.name(),
                        chunking.name(),
                        contender.name()
                    );
                    continue;
                }
                group.bench_with_input(
                    BenchmarkId::new(contender.slug(), chunking.name()),
                    &chunks,
                    |b, chunks| b.iter(|| black_box(contender.decode(black_box(chunks)))),
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
