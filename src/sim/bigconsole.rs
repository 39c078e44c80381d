//! The generated console of the big-log paths: fraud-scoring's newest build
//! logs its "Regression tests" stage at DEBUG, and the suite's output (the
//! application's log lines between surefire's `Running …IT` and `Tests run: …`
//! lines) is hundreds of megabytes.
//!
//! The region is never held in memory. It is cut into blocks of exactly
//! [`BLOCK`] bytes, one test class each; a block is a pure function of the
//! seed and its index, so any byte range is produced by rendering the one or
//! two blocks it touches (O(1) in the size of the log, a 64 KiB buffer at a
//! time). Lines are pre-rendered templates whose timestamp and digits are
//! patched in place, so generation runs at memory speed.
//!
//! A few blocks are special, at fixed fractions of the region: an
//! application `ERROR` with a `ResourceAccessException` caused by a
//! `java.net.SocketTimeoutException: Read timed out`, three failing tests
//! (surefire's `<<< FAILURE!` block with an `AssertionFailedError`, one of
//! them with a `Caused by:`), a `NullPointerException` logged at `ERROR`, and
//! one line with Latin-1 bytes (`é` as 0xE9) in a customer name. The last
//! failing test is in the region's last block. Where each one lands is
//! exposed as facts ([`BigLog::events`]).

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use super::ids::{self, splitmix64};
use super::jenkins::Ms;
use super::story::World;

/// Bytes per block (one test class of the regression suite).
pub(crate) const BLOCK: usize = 64 * 1024;
const BLOCK_U64: u64 = BLOCK as u64;
/// A region is never smaller than this many blocks (room for its special blocks).
const MIN_BLOCKS: u64 = 8;
/// Default size of the generated region: 200 MiB and a bit.
pub(crate) const DEFAULT_BYTES: u64 = 201 * 1024 * 1024;
/// Overrides [`DEFAULT_BYTES`] for `flightdeck sim` and `flightdeck --demo` (in MiB).
pub(crate) const ENV_MB: &str = "FLIGHTDECK_SIM_BIG_CONSOLE_MB";

const PACKAGE: &str = "com.dominion.fraud";
/// `YYYY-MM-DD HH:MM:SS.mmm` and a space.
const TS_LEN: usize = 23;

/// The shortest and longest feature-vector line: they absorb the slack so
/// that every block is exactly [`BLOCK`] bytes.
const VEC_PREFIX: &str = "YYYY-MM-DD HH:MM:SS.mmm TRACE [pool-3-thread-@] c.d.f.scoring.FeatureVector - v=[";
const MIN_VEC: usize = VEC_PREFIX.len() + 5;
const MAX_VEC: usize = 200;

/// Application log lines of the suite (after the timestamp). `#` is a digit,
/// `@` a digit from 1 to 8 (pool threads), `%` a hex digit.
const TEMPLATES: &[&str] = &[
    "DEBUG [pool-3-thread-@] c.d.f.scoring.RuleEngine - rule=velocity-5m txn=TX-########## score=0.### decision=APPROVE",
    "DEBUG [pool-3-thread-@] c.d.f.scoring.RuleEngine - rule=geo-mismatch txn=TX-########## ipCountry=FR cardCountry=FR score=0.### decision=APPROVE",
    "DEBUG [pool-3-thread-@] c.d.f.scoring.RuleEngine - evaluated 14 rules for txn=TX-########## in ### us",
    "DEBUG [pool-3-thread-@] c.d.f.scoring.RuleEngine - cache hit for merchant M-######",
    "DEBUG [pool-3-thread-@] c.d.f.scoring.FeatureStoreClient - GET /v1/features/card/45##############/window/5m -> 200 (## ms, cache=MISS)",
    "DEBUG [pool-3-thread-@] o.s.web.client.RestTemplate - HTTP GET http://feature-store.staging.dominion.internal/v1/features/card/45##############/window/5m",
    "DEBUG [pool-3-thread-@] o.s.web.client.RestTemplate - Response 200 OK",
    "DEBUG [pool-3-thread-@] org.hibernate.SQL - select t1_0.id,t1_0.amount_minor,t1_0.card_hash,t1_0.country,t1_0.created_at from transactions t1_0 where t1_0.id=?",
    "TRACE [pool-3-thread-@] org.hibernate.orm.jdbc.bind - binding parameter (1:BIGINT) <- [##########]",
    "DEBUG [HikariPool-1 housekeeper] com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - Pool stats (total=10, active=#, idle=#, waiting=0)",
    "INFO  [main] c.d.f.replay.ReplayDriver - replayed ##### of 50000 transactions (batch ####, #### tx/s)",
    "DEBUG [kafka-producer-network-thread | fraud-scoring-1] o.a.k.c.p.internals.Sender - Sending PRODUCE request, correlationId=######, to node #",
    "DEBUG [pool-3-thread-@] c.d.f.scoring.ScoreModel - model=gbm-v7 txn=TX-########## raw=0.###### calibrated=0.### threshold=0.850",
    "WARN  [pool-3-thread-@] c.d.f.scoring.FeatureStoreClient - slow feature lookup for card 45############## took ### ms (budget 150 ms)",
    "DEBUG [pool-3-thread-@] c.d.f.api.ScoringController - POST /v1/score txn=TX-########## merchant=M-###### amountMinor=###### currency=EUR -> 200",
    "DEBUG [pool-3-thread-@] c.d.f.scoring.AuditPublisher - published score for txn=TX-########## traceId=%%%%%%%%%%%%%%%%",
    "DEBUG [main] o.s.t.c.c.DefaultCacheAwareContextLoaderDelegate - Retrieved ApplicationContext [#########] from cache",
    "DEBUG [pool-3-thread-@] c.d.f.rules.VelocityWindow - card 45############## window=5m count=# sumMinor=######",
];

/// What a special block carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// An application `ERROR` line with a stack trace (the test still passes).
    AppError,
    /// A failing test: surefire's `<<< FAILURE!` lines, the assertion and its trace.
    TestFailure,
    /// A line with Latin-1 bytes (not an error).
    Latin1,
}

impl EventKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventKind::AppError => "app-error",
            EventKind::TestFailure => "test-failure",
            EventKind::Latin1 => "latin1",
        }
    }
}

/// A failing regression test of the big build.
#[derive(Clone, Debug)]
pub(crate) struct BigFailure {
    /// Class relative to the service package, e.g. `model.ScoreModelTestRegressionIT`.
    pub class: &'static str,
    pub method: &'static str,
    pub line: u32,
    pub message: String,
    /// The exception lines surefire prints under the failing test.
    pub trace: Vec<String>,
    tests: u32,
}

impl BigFailure {
    pub(crate) fn fqcn(&self) -> String {
        format!("{PACKAGE}.{}", self.class)
    }

    pub(crate) fn simple_class(&self) -> &'static str {
        self.class.rsplit('.').next().unwrap_or(self.class)
    }
}

fn assertion_trace(class: &str, method: &str, line: u32, message: &str) -> Vec<String> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    vec![
        format!("org.opentest4j.AssertionFailedError: {message}"),
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)".into(),
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.buildAndThrow(AssertionFailureBuilder.java:132)".into(),
        "\tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)".into(),
        "\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:182)".into(),
        "\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:1156)".into(),
        format!("\tat {PACKAGE}.{class}.{method}({simple}.java:{line})"),
        "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)".into(),
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)".into(),
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)".into(),
    ]
}

/// The three failing tests of the big build, in the order they run.
pub(crate) fn failures() -> Vec<BigFailure> {
    let cause =
        "java.lang.IllegalStateException: velocity window for card 4539********1122 not loaded after 3 attempts";
    let (c2, m2, l2) = ("rules.VelocityRuleTestRegressionIT", "replaysChargebackWindow", 118);
    let mut second = vec![
        format!("org.opentest4j.AssertionFailedError: Unexpected exception thrown: {cause}"),
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:152)".into(),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.createAssertionFailedError(AssertDoesNotThrow.java:84)".into(),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.assertDoesNotThrow(AssertDoesNotThrow.java:53)".into(),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.assertDoesNotThrow(AssertDoesNotThrow.java:36)".into(),
        "\tat org.junit.jupiter.api.Assertions.assertDoesNotThrow(Assertions.java:3168)".into(),
        format!("\tat {PACKAGE}.{c2}.{m2}(VelocityRuleTestRegressionIT.java:{l2})"),
        "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)".into(),
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)".into(),
    ];
    second.extend([
        format!("Caused by: {cause}"),
        format!("\tat {PACKAGE}.rules.VelocityWindowLoader.load(VelocityWindowLoader.java:71)"),
        format!("\tat {PACKAGE}.rules.VelocityRule.evaluate(VelocityRule.java:48)"),
        format!(
            "\tat {PACKAGE}.{c2}.lambda${m2}$3(VelocityRuleTestRegressionIT.java:{})",
            l2 + 1
        ),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.assertDoesNotThrow(AssertDoesNotThrow.java:49)".into(),
        "\t... 5 more".into(),
    ]);
    let (c1, m1, l1, msg1) = (
        "model.ScoreModelTestRegressionIT",
        "flagsFiveCardsInOneMinute",
        73,
        "expected: <HIGH> but was: <MEDIUM>",
    );
    let (c3, m3, l3, msg3) = (
        "api.ScoringControllerTestRegressionIT",
        "endToEndHappyPath",
        31,
        "expected: <200> but was: <504>",
    );
    vec![
        BigFailure {
            class: c1,
            method: m1,
            line: l1,
            message: msg1.into(),
            trace: assertion_trace(c1, m1, l1, msg1),
            tests: 9,
        },
        BigFailure {
            class: c2,
            method: m2,
            line: l2,
            message: format!("Unexpected exception thrown: {cause}"),
            trace: second,
            tests: 14,
        },
        BigFailure {
            class: c3,
            method: m3,
            line: l3,
            message: msg3.into(),
            trace: assertion_trace(c3, m3, l3, msg3),
            tests: 11,
        },
    ]
}

/// Lines logged in the middle of a block: the first starts with a timestamp
/// placeholder of [`TS_LEN`] bytes.
fn socket_timeout_lines() -> Vec<u8> {
    let url = "http://feature-store.staging.dominion.internal/v1/features/card/4539120087731122/window/5m";
    let lines = [
        "YYYY-MM-DD HH:MM:SS.mmm ERROR [pool-3-thread-7] c.d.f.scoring.FeatureStoreClient - feature lookup failed for txn=TX-0041877123; scoring with defaults".to_string(),
        format!("org.springframework.web.client.ResourceAccessException: I/O error on GET request for \"{url}\": Read timed out"),
        "\tat org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:915)".into(),
        "\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:895)".into(),
        "\tat org.springframework.web.client.RestTemplate.execute(RestTemplate.java:790)".into(),
        "\tat org.springframework.web.client.RestTemplate.getForObject(RestTemplate.java:380)".into(),
        format!("\tat {PACKAGE}.scoring.FeatureStoreClient.window(FeatureStoreClient.java:88)"),
        format!("\tat {PACKAGE}.scoring.RuleEngine.features(RuleEngine.java:142)"),
        format!("\tat {PACKAGE}.scoring.RuleEngine.score(RuleEngine.java:97)"),
        "\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)".into(),
        "\tat java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:642)".into(),
        "\tat java.base/java.lang.Thread.run(Thread.java:1583)".into(),
        "Caused by: java.net.SocketTimeoutException: Read timed out".into(),
        "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)".into(),
        "\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)".into(),
        "\tat java.base/sun.nio.ch.NioSocketImpl.read(NioSocketImpl.java:346)".into(),
        "\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)".into(),
        "\tat java.base/java.io.BufferedInputStream.fill(BufferedInputStream.java:291)".into(),
        "\tat java.base/sun.net.www.http.HttpClient.parseHTTPHeader(HttpClient.java:826)".into(),
        "\tat java.base/sun.net.www.protocol.http.HttpURLConnection.getInputStream0(HttpURLConnection.java:1690)".into(),
        "\tat org.springframework.http.client.SimpleClientHttpResponse.getStatusCode(SimpleClientHttpResponse.java:53)".into(),
        "\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:889)".into(),
        "\t... 7 more".into(),
    ];
    join_lines(&lines)
}

fn npe_lines() -> Vec<u8> {
    let lines = [
        "YYYY-MM-DD HH:MM:SS.mmm ERROR [pool-3-thread-4] c.d.f.scoring.RuleEngine - rule geo-mismatch failed for txn=TX-0077310045; scoring as REVIEW".to_string(),
        "java.lang.NullPointerException: Cannot invoke \"String.equalsIgnoreCase(String)\" because \"ipCountry\" is null".into(),
        format!("\tat {PACKAGE}.rules.GeoMismatchRule.evaluate(GeoMismatchRule.java:39)"),
        format!("\tat {PACKAGE}.scoring.RuleEngine.lambda$score$0(RuleEngine.java:103)"),
        "\tat java.base/java.util.stream.ReferencePipeline$3$1.accept(ReferencePipeline.java:197)".into(),
        "\tat java.base/java.util.ArrayList$ArrayListSpliterator.forEachRemaining(ArrayList.java:1708)".into(),
        "\tat java.base/java.util.stream.AbstractPipeline.copyInto(AbstractPipeline.java:509)".into(),
        format!("\tat {PACKAGE}.scoring.RuleEngine.score(RuleEngine.java:104)"),
        "\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)".into(),
        "\tat java.base/java.lang.Thread.run(Thread.java:1583)".into(),
    ];
    join_lines(&lines)
}

fn latin1_lines() -> Vec<u8> {
    let mut v = b"YYYY-MM-DD HH:MM:SS.mmm DEBUG [pool-3-thread-5] c.d.f.scoring.CustomerResolver - matched customer id=C-00412345 name=\"Ren"
        .to_vec();
    v.push(0xE9);
    v.extend_from_slice(b"e Lef");
    v.push(0xE8);
    v.extend_from_slice(b"vre\" country=FR riskTier=LOW\n");
    v
}

fn join_lines(lines: &[String]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_bytes());
        v.push(b'\n');
    }
    v
}

/// A special block: its test class and what it carries.
#[derive(Clone, Debug)]
struct Special {
    block: u64,
    kind: EventKind,
    /// Lines logged mid-block (timestamp placeholder first), if any.
    mid: Option<Vec<u8>>,
    /// The failing test this block's class reports, if any (index into `failures`).
    failure: Option<usize>,
}

/// Where a special event landed: byte offset in the region of its first
/// line, and that line's index within its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub kind: EventKind,
    pub offset: u64,
    pub block: u64,
    pub line_in_block: u32,
    /// The first line, as text (lossy), without its line break.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Patch {
    Digit,
    Thread,
    Hex,
}

/// A pre-rendered line: a timestamp placeholder, the text, and where to patch.
#[derive(Clone, Debug)]
struct Tpl {
    bytes: Vec<u8>,
    patches: Vec<(usize, usize, Patch)>,
}

impl Tpl {
    fn new(body: &str) -> Tpl {
        let mut bytes = b"YYYY-MM-DD HH:MM:SS.mmm ".to_vec();
        bytes.extend_from_slice(body.as_bytes());
        bytes.push(b'\n');
        Tpl {
            patches: patches_of(&bytes),
            bytes,
        }
    }
}

fn patches_of(bytes: &[u8]) -> Vec<(usize, usize, Patch)> {
    let mut out = Vec::new();
    let mut i = TS_LEN;
    while i < bytes.len() {
        let kind = match bytes[i] {
            b'#' => Patch::Digit,
            b'@' => Patch::Thread,
            b'%' => Patch::Hex,
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i;
        while i < bytes.len() && bytes[i] == bytes[start] {
            i += 1;
        }
        out.push((start, i - start, kind));
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum LineKind {
    Head,
    Tpl(u16),
    Vector,
    Mid,
    Tail,
}

#[derive(Clone, Copy, Debug)]
struct LineSpec {
    kind: LineKind,
    /// Bytes of the line (for `Mid` and `Tail`: of the whole chunk).
    len: u32,
    seed: u64,
}

/// A block's lines before rendering.
struct Layout {
    head: Vec<u8>,
    tail: Vec<u8>,
    specs: Vec<LineSpec>,
    /// Lines in the block.
    lines: u32,
    /// Byte offset and line index of the mid chunk, if placed.
    mid_at: Option<(usize, u32)>,
    /// Byte offset and line index of the tail.
    tail_at: (usize, u32),
}

/// Time of day and date of a story-clock instant, cached by day.
struct Clock {
    day: i64,
    date: [u8; 10],
}

impl Clock {
    fn new() -> Clock {
        Clock {
            day: i64::MIN,
            date: *b"1970-01-01",
        }
    }

    fn write(&mut self, ms: Ms, out: &mut [u8]) {
        const DAY: i64 = 86_400_000;
        let day = ms.div_euclid(DAY);
        if day != self.day {
            self.day = day;
            let s = chrono::DateTime::from_timestamp_millis(day * DAY)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "1970-01-01".into());
            self.date.copy_from_slice(&s.as_bytes()[..10]);
        }
        let t = ms.rem_euclid(DAY) as u32;
        let (h, m, s, milli) = (t / 3_600_000, t / 60_000 % 60, t / 1000 % 60, t % 1000);
        out[..10].copy_from_slice(&self.date);
        out[10] = b' ';
        two(&mut out[11..13], h);
        out[13] = b':';
        two(&mut out[14..16], m);
        out[16] = b':';
        two(&mut out[17..19], s);
        out[19] = b'.';
        out[20] = b'0' + (milli / 100) as u8;
        two(&mut out[21..23], milli % 100);
    }
}

fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

fn fill_digits(out: &mut [u8], mut x: u64, kind: Patch) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut left = 0;
    for b in out.iter_mut() {
        if left == 0 {
            x = splitmix64(x);
            left = 16;
        }
        *b = match kind {
            Patch::Digit => b'0' + ((x & 0xf) % 10) as u8,
            Patch::Thread => b'1' + ((x & 0xf) % 8) as u8,
            Patch::Hex => HEX[(x & 0xf) as usize],
        };
        x >>= 4;
        left -= 1;
    }
}

/// The generator of the big region.
pub(crate) struct BigLog {
    seed: u64,
    blocks: u64,
    /// Story-clock time of the region's first byte, and how long it spans.
    t0: Ms,
    span: Ms,
    templates: Vec<Tpl>,
    vector: Tpl,
    specials: Vec<Special>,
    failures: Vec<BigFailure>,
    tests_run: u64,
    skipped: u64,
    events: Vec<Event>,
    /// Lines before each block (and in the whole region, last), computed on first use.
    line_table: OnceLock<Vec<u64>>,
}

impl std::fmt::Debug for BigLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigLog")
            .field("blocks", &self.blocks)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl BigLog {
    /// A region of at least `bytes` bytes (whole blocks, at least a few),
    /// whose timestamps run from `t0` over `span` milliseconds.
    pub(crate) fn new(seed: u64, bytes: u64, t0: Ms, span: Ms) -> BigLog {
        let blocks = bytes.div_ceil(BLOCK_U64).max(MIN_BLOCKS);
        let mut taken: Vec<u64> = Vec::new();
        let mut place = |frac: f64, last: bool| -> u64 {
            let mut b = if last {
                blocks - 1
            } else {
                ((blocks as f64 * frac) as u64).min(blocks - 2)
            };
            while taken.contains(&b) {
                b += 1;
            }
            taken.push(b);
            b
        };
        let specials = vec![
            Special {
                block: place(0.12, false),
                kind: EventKind::AppError,
                mid: Some(socket_timeout_lines()),
                failure: None,
            },
            Special {
                block: place(0.37, false),
                kind: EventKind::TestFailure,
                mid: None,
                failure: Some(0),
            },
            Special {
                block: place(0.50, false),
                kind: EventKind::Latin1,
                mid: Some(latin1_lines()),
                failure: None,
            },
            Special {
                block: place(0.58, false),
                kind: EventKind::TestFailure,
                mid: None,
                failure: Some(1),
            },
            Special {
                block: place(0.76, false),
                kind: EventKind::AppError,
                mid: Some(npe_lines()),
                failure: None,
            },
            Special {
                block: place(1.0, true),
                kind: EventKind::TestFailure,
                mid: None,
                failure: Some(2),
            },
        ];
        let mut big = BigLog {
            seed: ids::hash(seed, &["big-console"]),
            blocks,
            t0,
            span: span.max(1),
            templates: TEMPLATES.iter().map(|t| Tpl::new(t)).collect(),
            vector: {
                let bytes = VEC_PREFIX.as_bytes().to_vec();
                Tpl {
                    patches: patches_of(&bytes),
                    bytes,
                }
            },
            specials,
            failures: failures(),
            tests_run: 0,
            skipped: 0,
            events: Vec::new(),
            line_table: OnceLock::new(),
        };
        debug_assert!(
            big.templates
                .iter()
                .all(|t| t.bytes.len() <= MAX_VEC && t.bytes.len() >= 40)
        );
        let (mut run, mut skipped) = (0, 0);
        for k in 0..blocks {
            let (n, s, _) = big.class_counts(k);
            run += u64::from(n);
            skipped += u64::from(s);
        }
        big.tests_run = run;
        big.skipped = skipped;
        let mut events = Vec::new();
        for sp in big.specials.clone() {
            let lay = big.layout(sp.block);
            let base = sp.block * BLOCK_U64;
            let (off, line, text) = match (sp.mid.as_ref(), lay.mid_at) {
                (Some(mid), Some((off, line))) => (off, line, mid),
                _ => (lay.tail_at.0, lay.tail_at.1, &lay.tail),
            };
            let mut first: Vec<u8> = text.iter().copied().take_while(|b| *b != b'\n').collect();
            if sp.mid.is_some() {
                // The timestamp as rendered.
                let mut clock = Clock::new();
                let mut ts = [0u8; TS_LEN];
                clock.write(big.time_at(sp.block, off), &mut ts);
                first[..TS_LEN].copy_from_slice(&ts);
            }
            events.push(Event {
                kind: sp.kind,
                offset: base + off as u64,
                block: sp.block,
                line_in_block: line,
                text: String::from_utf8_lossy(&first).into_owned(),
            });
        }
        events.sort_by_key(|e| e.offset);
        big.events = events;
        big
    }

    /// Bytes in the region.
    pub(crate) fn len(&self) -> u64 {
        self.blocks * BLOCK_U64
    }

    /// Tests the suite ran in the region, and how many it skipped.
    pub(crate) fn test_counts(&self) -> (u64, u64) {
        (self.tests_run, self.skipped)
    }

    /// The failing tests, in the order they run.
    pub(crate) fn failing_tests(&self) -> &[BigFailure] {
        &self.failures
    }

    /// The special events, by offset in the region.
    pub(crate) fn events(&self) -> &[Event] {
        &self.events
    }

    /// Lines in the region.
    pub(crate) fn line_count(&self) -> u64 {
        *self.lines_table().last().unwrap_or(&0)
    }

    /// Lines of the region before block `k`.
    pub(crate) fn lines_before(&self, k: u64) -> u64 {
        self.lines_table().get(k as usize).copied().unwrap_or(0)
    }

    fn lines_table(&self) -> &[u64] {
        self.line_table.get_or_init(|| {
            let mut v = Vec::with_capacity(self.blocks as usize + 1);
            let mut n = 0u64;
            for k in 0..self.blocks {
                v.push(n);
                n += u64::from(self.layout(k).lines);
            }
            v.push(n);
            v
        })
    }

    fn special(&self, k: u64) -> Option<&Special> {
        self.specials.iter().find(|s| s.block == k)
    }

    fn class_name(&self, k: u64) -> String {
        match self.special(k).and_then(|s| s.failure) {
            Some(i) => self.failures[i].fqcn(),
            None => format!("{PACKAGE}.replay.ReplayBatch{:05}IT", k + 1),
        }
    }

    /// Tests run and skipped by block `k`'s class, and its hash.
    fn class_counts(&self, k: u64) -> (u32, u32, u64) {
        let h = splitmix64(self.seed ^ splitmix64(k.wrapping_add(0x51ed)));
        match self.special(k).and_then(|s| s.failure) {
            Some(i) => (self.failures[i].tests, 0, h),
            None => (6 + (h % 10) as u32, u32::from((h >> 8).is_multiple_of(9)), h),
        }
    }

    fn block_times(&self, k: u64) -> (Ms, Ms) {
        let total = u128::from(self.len());
        let at = |b: u64| self.t0 + (u128::from(b * BLOCK_U64) * self.span as u128 / total) as Ms;
        (at(k), at(k + 1))
    }

    /// Story time of the line at byte `off` of block `k`.
    fn time_at(&self, k: u64, off: usize) -> Ms {
        let (bs, be) = self.block_times(k);
        bs + (((be - bs) as u64 * off as u64) >> 16) as Ms
    }

    fn layout(&self, k: u64) -> Layout {
        let class = self.class_name(k);
        let head = format!("[INFO] Running {class}\n").into_bytes();
        let (run, skipped, h) = self.class_counts(k);
        let (bs, be) = self.block_times(k);
        // What surefire measured: most of the class's share of the stage.
        let elapsed = ((be - bs) * (70 + (h >> 32) as i64 % 30) / 100).max(1);
        let special = self.special(k);
        let tail = match special.and_then(|s| s.failure) {
            Some(i) => {
                let f = &self.failures[i];
                let mut t = format!(
                    "[ERROR] Tests run: {run}, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: {}.{:03} s <<< FAILURE! -- in {class}\n\
                     [ERROR] {class}.{} -- Time elapsed: 0.{:03} s <<< FAILURE!\n",
                    elapsed / 1000,
                    elapsed % 1000,
                    f.method,
                    (h >> 20) % 900 + 12,
                );
                for l in &f.trace {
                    t.push_str(l);
                    t.push('\n');
                }
                t.push('\n');
                t.into_bytes()
            }
            None => format!(
                "[{}] Tests run: {run}, Failures: 0, Errors: 0, Skipped: {skipped}, Time elapsed: {}.{:03} s -- in {class}\n",
                if skipped > 0 { "WARNING" } else { "INFO" },
                elapsed / 1000,
                elapsed % 1000,
            )
            .into_bytes(),
        };
        let mid = special.and_then(|s| s.mid.as_ref());
        let mid_len = mid.map_or(0, Vec::len);
        let budget = BLOCK - head.len() - tail.len();
        let mut rng = splitmix64(self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mid_target = budget * (35 + (rng % 20) as usize) / 100;
        let mut specs = Vec::with_capacity(BLOCK / 100);
        specs.push(LineSpec {
            kind: LineKind::Head,
            len: head.len() as u32,
            seed: 0,
        });
        let mut used = 0usize;
        let mut mid_at = None;
        let ntpl = self.templates.len() as u64;
        loop {
            let pending = mid.is_some() && mid_at.is_none();
            if pending && used >= mid_target {
                mid_at = Some((head.len() + used, specs.len() as u32));
                specs.push(LineSpec {
                    kind: LineKind::Mid,
                    len: mid_len as u32,
                    seed: 0,
                });
                used += mid_len;
                continue;
            }
            rng = splitmix64(rng);
            let r = rng;
            let (kind, len) = if r.is_multiple_of(7) {
                let span = (MAX_VEC - MIN_VEC + 1) as u64;
                (LineKind::Vector, MIN_VEC + ((r >> 8) % span) as usize)
            } else {
                let i = ((r >> 8) % ntpl) as u16;
                (LineKind::Tpl(i), self.templates[usize::from(i)].bytes.len())
            };
            let reserve = if pending { mid_len } else { 0 };
            if budget - used < reserve + len + MIN_VEC {
                break;
            }
            specs.push(LineSpec {
                kind,
                len: len as u32,
                seed: splitmix64(r ^ 0xA5A5),
            });
            used += len;
        }
        if mid.is_some() && mid_at.is_none() {
            mid_at = Some((head.len() + used, specs.len() as u32));
            specs.push(LineSpec {
                kind: LineKind::Mid,
                len: mid_len as u32,
                seed: 0,
            });
            used += mid_len;
        }
        let rem = budget - used;
        debug_assert!(rem >= MIN_VEC, "block {k}: {rem} bytes left");
        let fill = if rem <= MAX_VEC {
            vec![rem]
        } else {
            vec![rem / 2, rem - rem / 2]
        };
        for len in fill {
            rng = splitmix64(rng);
            specs.push(LineSpec {
                kind: LineKind::Vector,
                len: len as u32,
                seed: rng,
            });
        }
        let tail_line = specs.len() as u32;
        specs.push(LineSpec {
            kind: LineKind::Tail,
            len: tail.len() as u32,
            seed: 0,
        });
        let tail_lines = tail.iter().filter(|b| **b == b'\n').count() as u32;
        let mid_lines = mid.map_or(0, |m| m.iter().filter(|b| **b == b'\n').count() as u32);
        // Every spec is one line but the mid chunk and the tail.
        let single = specs.len() as u32 - 1 - u32::from(mid.is_some());
        let lines = single + mid_lines + tail_lines;
        let tail_at = (BLOCK - tail.len(), lines - tail_lines);
        debug_assert_eq!(tail_line as usize + 1, specs.len());
        Layout {
            head,
            tail,
            specs,
            lines,
            mid_at,
            tail_at,
        }
    }

    /// Renders block `k` (exactly [`BLOCK`] bytes) into `out`.
    fn render_block(&self, k: u64, out: &mut [u8]) {
        debug_assert_eq!(out.len(), BLOCK);
        let lay = self.layout(k);
        let (bs, be) = self.block_times(k);
        let step = (be - bs).max(0) as u64;
        let mut clock = Clock::new();
        let mid = self.special(k).and_then(|s| s.mid.as_ref());
        let mut pos = 0usize;
        for spec in &lay.specs {
            let len = spec.len as usize;
            let line = &mut out[pos..pos + len];
            let ts = bs + ((step * pos as u64) >> 16) as Ms;
            match spec.kind {
                LineKind::Head => line.copy_from_slice(&lay.head),
                LineKind::Tail => line.copy_from_slice(&lay.tail),
                LineKind::Mid => {
                    if let Some(m) = mid {
                        line.copy_from_slice(m);
                        clock.write(ts, &mut line[..TS_LEN]);
                    }
                }
                LineKind::Tpl(i) => {
                    let t = &self.templates[usize::from(i)];
                    line.copy_from_slice(&t.bytes);
                    clock.write(ts, &mut line[..TS_LEN]);
                    let mut x = spec.seed;
                    for &(off, n, kind) in &t.patches {
                        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                        fill_digits(&mut line[off..off + n], x, kind);
                    }
                }
                LineKind::Vector => {
                    let p = self.vector.bytes.len();
                    line[..p].copy_from_slice(&self.vector.bytes);
                    clock.write(ts, &mut line[..TS_LEN]);
                    for &(off, n, kind) in &self.vector.patches {
                        fill_digits(&mut line[off..off + n], spec.seed, kind);
                    }
                    // Items "0.###," then a last "0.d…d]" of 1 to 6 digits.
                    let rest = len - p - 4;
                    let items = (rest - 1) / 6;
                    let last = rest - 6 * items;
                    let mut i = p;
                    let mut x = spec.seed;
                    for _ in 0..items {
                        line[i] = b'0';
                        line[i + 1] = b'.';
                        x = splitmix64(x);
                        fill_digits(&mut line[i + 2..i + 5], x, Patch::Digit);
                        line[i + 5] = b',';
                        i += 6;
                    }
                    line[i] = b'0';
                    line[i + 1] = b'.';
                    fill_digits(&mut line[i + 2..i + 2 + last], x ^ 0x55, Patch::Digit);
                    i += 2 + last;
                    line[i] = b']';
                    line[i + 1] = b'\n';
                }
            }
            pos += len;
        }
        debug_assert_eq!(pos, BLOCK);
    }

    /// Block `k` as bytes.
    pub(crate) fn block(&self, k: u64) -> Bytes {
        let mut buf = BytesMut::zeroed(BLOCK);
        self.render_block(k, &mut buf);
        buf.freeze()
    }

    /// Bytes `start..end` of the region (clamped), for small reads.
    pub(crate) fn read(&self, start: u64, end: u64) -> Vec<u8> {
        let end = end.min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let mut pos = start;
        let mut buf = vec![0u8; BLOCK];
        while pos < end {
            let k = pos / BLOCK_U64;
            self.render_block(k, &mut buf);
            let from = (pos - k * BLOCK_U64) as usize;
            let to = ((end - k * BLOCK_U64) as usize).min(BLOCK);
            out.extend_from_slice(&buf[from..to]);
            pos = k * BLOCK_U64 + to as u64;
        }
        out
    }

    /// A chunk of the region from `pos` up to the end of its block (or `end`).
    pub(crate) fn chunk(&self, pos: u64, end: u64) -> Bytes {
        let k = pos / BLOCK_U64;
        let block = self.block(k);
        let from = (pos - k * BLOCK_U64) as usize;
        let to = (end.min((k + 1) * BLOCK_U64) - k * BLOCK_U64) as usize;
        block.slice(from..to)
    }
}

/// The size of the region from the environment (`FLIGHTDECK_SIM_BIG_CONSOLE_MB`,
/// in MiB, fractions allowed), or the default.
pub(crate) fn bytes_from_env() -> u64 {
    match std::env::var(ENV_MB) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<f64>() {
            Ok(mb) if mb.is_finite() && mb >= 0.0 => (mb * 1024.0 * 1024.0) as u64,
            _ => {
                tracing::warn!("{ENV_MB}={v:?} is not a size in MiB; using the default");
                DEFAULT_BYTES
            }
        },
        _ => DEFAULT_BYTES,
    }
}

/// A line of the big console: what it is, where it starts, its number.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BigLineFact {
    /// `app-error`, `test-failure`, `latin1` or `summary`.
    pub kind: String,
    /// Byte offset of the line's first byte in `consoleText` (and progressiveText).
    pub offset: u64,
    /// 1-based line number in `consoleText`.
    pub line: u64,
    /// The line (lossy UTF-8, no line break).
    pub text: String,
}

/// Where the big console is and what is in it (see [`crate::sim::SimControl::big_console`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BigConsoleFact {
    pub job: String,
    pub build_number: u32,
    /// `/job/dominion/job/fraud-scoring/75/` (relative to the Jenkins URL).
    pub build_path: String,
    /// The stage whose step printed the generated region ("Regression tests"),
    /// its flow node and the `mvn` step's.
    pub stage: String,
    pub stage_node_id: u32,
    pub step_node_id: u32,
    /// Length of `consoleText` (X-Text-Size of the finished build).
    pub total_bytes: u64,
    /// Lines of `consoleText`.
    pub total_lines: u64,
    /// Where the generated region starts in `consoleText`, and its length.
    pub region_offset: u64,
    pub region_bytes: u64,
    /// Length of the `mvn` step's own log (`execution/node/ID/log`).
    pub step_log_bytes: u64,
    /// The first line of each error block, in order: two application errors
    /// with stack traces, three failing tests (surefire's `<<< FAILURE!`
    /// line; the second has a `Caused by:`), and surefire's summary near the
    /// end (`Tests run: …, Failures: 3, …`).
    pub errors: Vec<BigLineFact>,
    /// The last error line of the log (in its last 1 %).
    pub last_error: BigLineFact,
    /// The line with Latin-1 bytes (0xE9, 0xE8) in a customer name.
    pub latin1: BigLineFact,
}

/// The facts of the world's big console, if it has one.
pub(crate) fn fact(w: &World) -> Option<BigConsoleFact> {
    let (job, number) = w.big_console.clone()?;
    let b = w.jobs.get(&job)?.build(number)?;
    let big = b.ctx.big.as_ref()?;
    let (at, step_at) = b.big_at()?;
    let (stage, step) = b
        .stages
        .iter()
        .find_map(|st| st.steps.iter().find(|s| s.big_at.is_some()).map(|s| (st, s)))?;
    let console = b.console.as_bytes();
    let count = |bytes: &[u8]| bytes.iter().filter(|c| **c == b'\n').count() as u64;
    let prefix_lines = count(&console[..at]);
    let region = big.len();
    let mut errors = Vec::new();
    let mut latin1 = BigLineFact::default();
    for e in big.events() {
        let f = BigLineFact {
            kind: e.kind.as_str().into(),
            offset: at as u64 + e.offset,
            line: prefix_lines + big.lines_before(e.block) + u64::from(e.line_in_block) + 1,
            text: e.text.clone(),
        };
        if e.kind == EventKind::Latin1 {
            latin1 = f;
        } else {
            errors.push(f);
        }
    }
    // Surefire's summary after the region.
    let suffix = &b.console[at..];
    let needle = "[ERROR] Tests run: ";
    if let Some(i) = suffix.find(needle) {
        let end = suffix[i..].find('\n').map_or(suffix.len(), |e| i + e);
        errors.push(BigLineFact {
            kind: "summary".into(),
            offset: (at + i) as u64 + region,
            line: prefix_lines + big.line_count() + count(&suffix.as_bytes()[..i]) + 1,
            text: suffix[i..end].to_string(),
        });
    }
    Some(BigConsoleFact {
        build_path: super::render::build_path(&job, number),
        job,
        build_number: number,
        stage: stage.name.clone(),
        stage_node_id: stage.id,
        step_node_id: step.id,
        total_bytes: console.len() as u64 + region,
        total_lines: count(console) + big.line_count(),
        region_offset: at as u64,
        region_bytes: region,
        step_log_bytes: step.log.len() as u64 + region,
        last_error: errors.last().cloned().unwrap_or_default(),
        errors,
        latin1,
    })
    .filter(|_| step_at <= step.log.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Ms = 1_764_000_000_000;

    fn small() -> BigLog {
        BigLog::new(7, 2 * 1024 * 1024, T0, 30_000)
    }

    fn lines_of(b: &[u8]) -> usize {
        b.iter().filter(|c| **c == b'\n').count()
    }

    #[test]
    fn blocks_are_exact_and_their_line_counts_are_known() {
        let big = small();
        assert_eq!(big.len(), 32 * BLOCK_U64);
        let mut total = 0u64;
        for k in 0..big.blocks {
            let b = big.block(k);
            assert_eq!(b.len(), BLOCK);
            assert_eq!(*b.last().unwrap(), b'\n', "block {k} ends a line");
            assert_eq!(lines_of(&b) as u32, big.layout(k).lines, "block {k}");
            assert_eq!(big.lines_before(k), total);
            total += lines_of(&b) as u64;
            assert!(b.starts_with(b"[INFO] Running com.dominion.fraud."));
        }
        assert_eq!(big.line_count(), total);
    }

    #[test]
    fn any_range_is_the_same_bytes() {
        let big = small();
        let all = big.read(0, big.len());
        assert_eq!(all.len() as u64, big.len());
        for (a, b) in [
            (0, 10),
            (BLOCK_U64 - 5, BLOCK_U64 + 7),
            (123_456, 654_321),
            (big.len() - 3, big.len() + 9),
        ] {
            assert_eq!(big.read(a, b), all[a as usize..(b.min(big.len())) as usize], "{a}..{b}");
        }
        let c = big.chunk(BLOCK_U64 + 100, big.len());
        assert_eq!(&c[..], &all[BLOCK + 100..2 * BLOCK]);
        // Deterministic: another generator with the same seed agrees.
        assert_eq!(
            BigLog::new(7, 2 * 1024 * 1024, T0, 30_000).read(500_000, 500_100),
            all[500_000..500_100]
        );
        assert_ne!(
            BigLog::new(8, 2 * 1024 * 1024, T0, 30_000).read(500_000, 500_100),
            all[500_000..500_100]
        );
    }

    #[test]
    fn lines_look_like_a_debug_log() {
        let big = small();
        let all = big.read(0, big.len());
        let mut last_ts = String::new();
        let mut lengths = Vec::new();
        for line in all
            .split(|c| *c == b'\n')
            .filter(|l| l.len() > 24 && l[4] == b'-' && l[10] == b' ')
        {
            let ts = String::from_utf8_lossy(&line[..23]).into_owned();
            assert!(ts >= last_ts, "{ts} after {last_ts}");
            assert!(ts.starts_with("2025-11-24 "), "{ts}");
            last_ts = ts;
            lengths.push(line.len() + 1);
        }
        assert!(lengths.len() > 10_000);
        assert!(
            lengths.iter().all(|l| (40..=200).contains(l)),
            "{:?}",
            lengths.iter().max()
        );
        assert!(lengths.iter().min().unwrap() < &90 && lengths.iter().max().unwrap() > &170);
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("Tests run: "));
        assert!(text.contains(" -- in com.dominion.fraud.replay.ReplayBatch00001IT\n"));
        assert!(text.contains("DEBUG [pool-3-thread-"));
        assert!(!text.contains('#') && !text.contains('@'), "placeholders left");
    }

    #[test]
    fn events_are_where_the_facts_say() {
        let big = small();
        let all = big.read(0, big.len());
        let ev = big.events();
        assert_eq!(ev.len(), 6);
        let kinds: Vec<_> = ev.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "app-error",
                "test-failure",
                "latin1",
                "test-failure",
                "app-error",
                "test-failure"
            ]
        );
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(all.iter().enumerate().filter(|(_, c)| **c == b'\n').map(|(i, _)| i + 1))
            .collect();
        for e in ev {
            let at = e.offset as usize;
            assert!(at == 0 || all[at - 1] == b'\n', "{e:?} starts a line");
            let end = at + all[at..].iter().position(|c| *c == b'\n').unwrap();
            assert_eq!(String::from_utf8_lossy(&all[at..end]), e.text);
            let line = big.lines_before(e.block) + u64::from(e.line_in_block);
            assert_eq!(line_starts[line as usize], at, "{e:?}");
        }
        assert!(
            ev[0]
                .text
                .contains(" ERROR [pool-3-thread-7] c.d.f.scoring.FeatureStoreClient")
        );
        assert!(
            ev[1]
                .text
                .starts_with("[ERROR] Tests run: 9, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: ")
        );
        assert!(
            ev[1]
                .text
                .ends_with(" <<< FAILURE! -- in com.dominion.fraud.model.ScoreModelTestRegressionIT")
        );
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("\nCaused by: java.net.SocketTimeoutException: Read timed out\n"));
        assert!(text.contains("\norg.opentest4j.AssertionFailedError: expected: <HIGH> but was: <MEDIUM>\n\tat "));
        assert!(text.contains("\nCaused by: java.lang.IllegalStateException: velocity window"));
        // The last failure is in the last block, the Latin-1 bytes are raw.
        assert_eq!(ev[5].block, big.blocks - 1);
        assert!(all.windows(5).any(|w| w == b"Ren\xE9e"));
        assert!(std::str::from_utf8(&all).is_err());
    }

    #[test]
    fn a_big_region_places_the_last_failure_in_its_last_percent() {
        let big = BigLog::new(7, DEFAULT_BYTES, T0, 30_000);
        assert!(big.len() >= 200_000_000);
        let last = big.events().last().unwrap();
        assert!(last.offset * 100 >= big.len() * 99, "{last:?}");
        let (run, skipped) = big.test_counts();
        assert!(run > 10_000 && skipped > 0);
        // One block, rendered alone, is all it takes to read anywhere.
        let tail = big.read(big.len() - 300, big.len());
        assert!(
            String::from_utf8_lossy(&tail).ends_with("\n\n"),
            "the failure block ends with a blank line"
        );
    }
}
