//! Recordings: `taskscope top --record` keeps what the receiver accepts as OTLP JSON lines
//! (the OpenTelemetry file-exporter format), plain or zstd, rotated at a size bound; a
//! replay on the recording's clock shows, export by export, the numbers the live receiver
//! showed; a damaged file is read up to the damage; a file the OpenTelemetry Python SDK's
//! encoder wrote replays too, through the `taskscope` binary.
#![cfg(all(feature = "receiver", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::{cli, common, senders};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use taskscope::Outcome;
use taskscope::frame::{Frame, Series};
use taskscope::receive::{Receiver, Recorder, Recording, Replay, Speed};

#[taskscope::measure]
fn recorded_call(n: u32) -> Result<u32, std::fmt::Error> {
    recorded_call_body(n)
}

/// The same, for the zstd test (the module's tests share a process).
#[taskscope::measure]
fn zstd_call(n: u32) -> Result<u32, std::fmt::Error> {
    recorded_call_body(n)
}

fn recorded_call_body(n: u32) -> Result<u32, std::fmt::Error> {
    if n.is_multiple_of(5) {
        Err(std::fmt::Error)
    } else {
        Ok(n)
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("recordings");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn series(frame: &Frame, function: &str) -> Option<Series> {
    frame
        .series
        .iter()
        .find(|s| &*s.function == function)
        .map(|s| (**s).clone())
}

/// What a frame says of a function: calls by outcome, and the latency's count, p50, p99.
type Numbers = ([u64; 4], u64, Option<f64>, Option<f64>);

/// A measured function and its name.
type Measured = (fn(u32) -> Result<u32, std::fmt::Error>, &'static str);

fn numbers(s: &Series) -> Numbers {
    (
        Outcome::ALL.map(|o| s.calls[o]),
        s.latency.count(),
        s.latency.quantile(0.5),
        s.latency.quantile(0.99),
    )
}

/// Records `exports` exports of growing numbers of calls into `recorder`; the live numbers
/// after each export.
fn record(recorder: Recorder, exports: u32, (call, name): Measured) -> (Receiver, Vec<Numbers>) {
    common::init();
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .without_http()
        .with_recorder(recorder)
        .start()
        .unwrap();
    let exporter = taskscope::otlp()
        .with_endpoint(format!("http://{}", receiver.grpc_addr().unwrap()))
        .with_service_name("recorded")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let mut live = Vec::new();
    let mut calls = 0;
    for e in 0..exports {
        for n in 0..(10 + e * 7) {
            let _ = call(n);
            calls += 1;
        }
        exporter.flush().expect("flushed");
        let deadline = Instant::now() + Duration::from_secs(30);
        let s = loop {
            if let Some(s) = series(&receiver.frame(), name)
                && s.total_calls() == calls
            {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "export {e} never arrived: {:?}, {:?}",
                series(&receiver.frame(), name).map(|s| s.calls),
                receiver.stats()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        live.push(numbers(&s));
    }
    // Dropped, the exporter exports a last time: the same numbers again.
    drop(exporter);
    live.push(*live.last().unwrap());
    // The writer thread empties its queue as lines come.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.recorder_stats().unwrap().written < u64::from(exports) + 1 {
        assert!(Instant::now() < deadline, "{:?}", receiver.recorder_stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    (receiver, live)
}

#[test]
fn a_replay_shows_export_by_export_what_the_live_receiver_showed() {
    if crate::support::alone(
        module_path!(),
        "a_replay_shows_export_by_export_what_the_live_receiver_showed",
    ) {
        return;
    }
    let path = temp("live.jsonl");
    let (receiver, live) = record(
        Recorder::builder(&path).start().unwrap(),
        5,
        (recorded_call, "recorded_call"),
    );
    drop(receiver);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        senders::read_python_file(&path, "::recorded_call"),
        (6, 120),
        "protobuf's own JSON parser reads the recording"
    );
    assert_eq!(
        text.lines().count(),
        6,
        "one export request a line, the last at the exporter's drop"
    );
    assert!(
        text.starts_with("{\"resourceMetrics\":["),
        "OTLP JSON: {}",
        &text[..80]
    );

    let recording = Recording::open(&path).unwrap();
    assert_eq!(recording.requests(), 6);
    assert_eq!(recording.damage(), None);
    let mut replay = Replay::new(recording);
    assert!(
        series(&replay.frame(), "recorded_call").is_none(),
        "a replay starts before the first export"
    );
    replay.set_speed(Speed::Max);
    let mut replayed = Vec::new();
    let mut last_at = replay.frame().at;
    while !replay.at_end() {
        let frame = replay.step(Duration::from_secs(1));
        assert!(
            frame.at >= last_at,
            "the recording's clock only moves forward"
        );
        last_at = frame.at;
        replayed.push(numbers(&series(&frame, "recorded_call").unwrap()));
    }
    assert_eq!(
        replayed, live,
        "each replayed frame has the live frame's numbers"
    );
    assert!(
        replay
            .frame()
            .status
            .connection
            .contains("replayed to the end")
    );

    // Back to the start and forward at 1x: the same numbers at the same times.
    replay.seek(Duration::ZERO);
    assert_eq!(
        numbers(&series(&replay.frame(), "recorded_call").unwrap()),
        live[0]
    );
    replay.set_speed(Speed::Times(1.0));
    let end = replay.recording().duration();
    replay.advance(end);
    assert_eq!(
        numbers(&series(&replay.frame(), "recorded_call").unwrap()),
        live[5]
    );

    // Damage: a cut last line, then a line of garbage in the middle.
    let lines: Vec<&str> = text.lines().collect();
    let cut = temp("cut.jsonl");
    std::fs::write(
        &cut,
        format!(
            "{}\n{}",
            lines[..4].join("\n"),
            &lines[4][..lines[4].len() / 2]
        ),
    )
    .unwrap();
    let r = Recording::open(&cut).unwrap();
    assert_eq!(r.requests(), 4, "read up to the damage");
    assert!(
        r.damage().unwrap().starts_with("line 5: malformed"),
        "{:?}",
        r.damage()
    );
    let mut replay = Replay::new(r);
    replay.seek(Duration::from_secs(3600));
    let frame = replay.frame();
    assert_eq!(numbers(&series(&frame, "recorded_call").unwrap()), live[3]);
    assert!(
        frame
            .status
            .last_rejection
            .as_deref()
            .unwrap()
            .contains("stops early: line 5"),
        "{:?}",
        frame.status.last_rejection
    );
    let garbage = temp("garbage.jsonl");
    std::fs::write(
        &garbage,
        format!("{}\n{}\nnot json\n{}\n", lines[0], lines[1], lines[3]),
    )
    .unwrap();
    let r = Recording::open(&garbage).unwrap();
    assert_eq!(
        (r.requests(), r.damage().map(|d| &d[..7])),
        (2, Some("line 3:"))
    );
    let empty = temp("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let e = Recording::open(&empty).unwrap_err().to_string();
    assert!(e.contains("no export request"), "{e}");
    let e = Recording::open(temp("missing.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.jsonl"),
        "the message names the file: {e}"
    );
}

#[test]
fn zstd_recordings_rotate_at_their_bound_and_replay_the_same() {
    if crate::support::alone(
        module_path!(),
        "zstd_recordings_rotate_at_their_bound_and_replay_the_same",
    ) {
        return;
    }
    let path = temp("rotated.jsonl.zst");
    // A bound below one line: every export after the first rotates the file.
    let recorder = Recorder::builder(&path)
        .with_zstd(true)
        .with_max_file_bytes(64)
        .with_kept_files(2)
        .start()
        .unwrap();
    let (receiver, live) = record(recorder, 3, (zstd_call, "zstd_call"));
    let stats = receiver.recorder_stats().unwrap();
    assert_eq!(
        (stats.written, stats.rotations, stats.dropped),
        (4, 3, 0),
        "{stats:?}"
    );
    drop(receiver);
    let numbered = |k: u32| PathBuf::from(format!("{}.{k}", path.display()));
    assert!(numbered(1).exists() && numbered(2).exists());
    assert!(!numbered(3).exists(), "only two rotated files are kept");
    // The current file holds the last export, a zstd frame.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], &[0x28, 0xB5, 0x2F, 0xFD]);
    let r = Recording::open(&path).unwrap();
    assert_eq!(r.requests(), 1);
    let mut replay = Replay::new(r);
    let frame = replay.step(Duration::from_secs(1));
    assert_eq!(numbers(&series(&frame, "zstd_call").unwrap()), live[3]);
    // A cut zstd frame is damage, not a failure of the frames before it.
    let older = std::fs::read(numbered(1)).unwrap();
    let two = temp("two.jsonl.zst");
    std::fs::write(&two, [&older[..], &bytes[..bytes.len() / 2]].concat()).unwrap();
    let r = Recording::open(&two).unwrap();
    assert_eq!(r.requests(), 1);
    assert!(
        r.damage().unwrap().starts_with("zstd frame 2"),
        "{:?}",
        r.damage()
    );
}

#[test]
fn a_file_the_python_sdk_wrote_replays_through_the_binary() {
    if crate::support::alone(
        module_path!(),
        "a_file_the_python_sdk_wrote_replays_through_the_binary",
    ) {
        return;
    }
    let path = temp("python.jsonl");
    senders::write_python_file(&path, 4, 50, "py-recorded");
    let r = Recording::open(&path).unwrap();
    assert_eq!((r.requests(), r.damage()), (4, None));
    assert!(
        r.duration() >= Duration::from_millis(150),
        "{:?}",
        r.duration()
    );

    let last = cli::last_json_line(
        ["top", "--no-tui", "--json", "--replay"]
            .map(std::ffi::OsStr::new)
            .into_iter()
            .chain([path.as_os_str()]),
    );
    let f = last["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "charge_card")
        .unwrap_or_else(|| panic!("{last}"));
    assert_eq!(f["service"], "py-recorded");
    assert_eq!(
        (f["calls"].as_u64(), f["error"].as_u64()),
        (Some(200), Some(20))
    );
    assert!(
        last["connection"]
            .as_str()
            .unwrap()
            .contains("replayed to the end"),
        "{last}"
    );

    // What is wrong with the command line or the file comes back as a message, not a panic.
    let bad = std::process::Command::new(cli::binary())
        .args(["top", "--no-tui", "--replay"])
        .arg(temp("nothing-here.jsonl"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("could not replay") && err.contains("nothing-here"),
        "{err}"
    );
    let bad = std::process::Command::new(cli::binary())
        .args(["top", "--replay", "x", "--speed", "warp"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a speed"));
}

#[taskscope::measure]
fn inproc_call(n: u32) -> Result<u32, std::fmt::Error> {
    recorded_call_body(n)
}

/// The calls of `function` in a headless dashboard's JSON summary.
fn json_calls(top: &taskscope::view::Headless, function: &str) -> Option<u64> {
    let json: serde_json::Value = serde_json::from_str(&top.json()).unwrap();
    json["functions"]
        .as_array()?
        .iter()
        .find(|f| f["function"] == function)?["calls"]
        .as_u64()
}

#[test]
fn the_dashboard_records_in_process_and_its_keys_drive_a_replay() {
    if crate::support::alone(
        module_path!(),
        "the_dashboard_records_in_process_and_its_keys_drive_a_replay",
    ) {
        return;
    }
    use crossterm_keys::key;
    common::init();
    let path = temp("inprocess.jsonl");
    let recorder = Recorder::builder(&path).start().unwrap();
    let mut top = taskscope::top()
        .with_service_name("inproc")
        .record(recorder)
        .headless(120, 30);
    for _ in 0..4 {
        for n in 0..10 {
            let _ = inproc_call(n);
        }
        top.tick();
        // Exports further apart than a refresh of the replay (50 ms at the least).
        std::thread::sleep(Duration::from_millis(120));
    }
    drop(top);
    let r = Recording::open(&path).unwrap();
    assert_eq!(r.requests(), 4, "one export request a refresh");
    // A reader nobody on the team wrote reads the in-process recording as OTLP JSON too.
    assert_eq!(senders::read_python_file(&path, "::inproc_call"), (4, 40));
    let mut check = Replay::new(Recording::open(&path).unwrap());
    check.seek(Duration::from_secs(3600));
    let s = series(&check.frame(), "inproc_call").unwrap();
    assert_eq!(s.total_calls(), 40, "{s:?}");

    // The whole recording is the window, so the summary's calls are the cumulative ones.
    let mut top = taskscope::top()
        .with_replay(Replay::new(r))
        .with_window(taskscope::view::Window::All)
        .with_refresh(Duration::from_millis(1))
        .headless(160, 40);
    top.tick();
    assert!(top.screen().contains("replaying 1x"), "{}", top.screen());
    for _ in 0..3 {
        top.press(key('>'));
    }
    top.tick();
    assert!(top.screen().contains("replaying max"), "{}", top.screen());
    // The first frame (1x, one 50 ms refresh) held the first export; every number below is
    // the window's, counted from that frame's 10 calls.
    let first = json_calls(&top, "inproc_call");
    assert_eq!(first, Some(10), "the second export, at max speed");
    top.press(key(' '));
    top.tick();
    assert!(top.screen().contains("PAUSED"), "{}", top.screen());
    assert_eq!(
        json_calls(&top, "inproc_call"),
        first,
        "paused: nothing moves"
    );
    top.press(key('.'));
    let stepped = json_calls(&top, "inproc_call");
    assert_eq!(stepped, Some(20), "a step while paused moves one export");
    top.press(key(']'));
    assert!(
        top.screen().contains("replayed to the end"),
        "{}",
        top.screen()
    );
    assert_eq!(
        json_calls(&top, "inproc_call"),
        Some(30),
        "the jump plays the rest"
    );
    top.press(key('['));
    assert!(
        top.screen().contains("paused 0:00"),
        "back at the start: {}",
        top.screen()
    );
    top.press(key('.'));
    assert_eq!(
        json_calls(&top, "inproc_call"),
        Some(10),
        "counted again from the start: the second export's 10 calls"
    );
}

mod crossterm_keys {
    pub(super) fn key(c: char) -> ratatui::crossterm::event::KeyEvent {
        ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Char(c))
    }
}
