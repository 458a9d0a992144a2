//! The frame reader against a plain reference framing: a byte stream built
//! from the input (frames of any declared size, up to megabytes, so the
//! large-frame path is reached from small inputs, and raw bytes between
//! them, which make bad size prefixes), read in chunks whose sizes come
//! from the input too. The reader must give exactly the reference's frames
//! and fail exactly where it does, never panic, and never change a frame it
//! handed out: every other frame is held to the end (so its buffer cannot
//! be reused) and compared again then.
#![no_main]

use kafkite::client::FrameReader;
use libfuzzer_sys::fuzz_target;

/// The stream is cut off past this many bytes, to keep runs quick; a frame
/// may declare more (it then never completes, and the reader must still
/// bound the room it makes for it).
const MAX_STREAM: usize = 2 << 20;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let max_frame = [1 << 10, 100_000, 3 << 20, 64 << 20][data[0] as usize % 4];
    let reads: Vec<usize> = data[1..4]
        .iter()
        .map(|&b| 1 + usize::from(b) * usize::from(b) * 37)
        .collect();
    let stream = build_stream(&data[4..]);
    let (expected, expect_error) = reference(&stream, max_frame);

    let mut reader = FrameReader::new(max_frame);
    let mut got = Vec::new();
    let mut held = Vec::new();
    let mut failed = false;
    let mut at = 0;
    let mut read = 0;
    'reading: while at < stream.len() {
        let space = reader.read_space();
        assert!(!space.is_empty(), "no room to read into");
        let n = space
            .len()
            .min(reads[read % reads.len()])
            .min(stream.len() - at);
        read += 1;
        space[..n].copy_from_slice(&stream[at..at + n]);
        reader.filled(n);
        at += n;
        while let Some(frame) = reader.next_frame() {
            match frame {
                Ok(frame) => {
                    got.push(frame.to_vec());
                    if got.len() % 2 == 0 {
                        held.push((got.len() - 1, frame));
                    }
                }
                Err(error) => {
                    assert!(error.size < 0 || error.size as usize > max_frame);
                    failed = true;
                    break 'reading;
                }
            }
        }
    }
    assert_eq!(got, expected, "frames differ from the reference");
    assert_eq!(
        failed, expect_error,
        "error where the reference has none, or none where it has one"
    );
    for (index, frame) in held {
        assert_eq!(&frame[..], &expected[index][..], "a held frame changed");
    }
});

/// Turns the input into a stream: each step is either a frame (a size
/// prefix from three input bytes, scaled up to 64 MiB, then that many bytes
/// of one value, cut off at [`MAX_STREAM`]) or a few raw input bytes.
fn build_stream(ops: &[u8]) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut i = 0;
    while i < ops.len() && stream.len() < MAX_STREAM {
        let op = ops[i];
        i += 1;
        if op % 4 == 0 {
            let n = usize::from(op / 4) % 9;
            let end = (i + n).min(ops.len());
            stream.extend_from_slice(&ops[i..end]);
            i = end;
            continue;
        }
        let Some(&[a, b, c]) = ops.get(i..i + 3) else {
            break;
        };
        i += 3;
        let raw = u32::from_be_bytes([0, a, b, c]) as usize;
        let size = match op % 4 {
            1 => 4 + raw % 300,
            2 => 4 + raw % 200_000,
            _ => 4 + raw * 4,
        };
        stream.extend_from_slice(&(size as u32).to_be_bytes());
        let body_start = stream.len();
        let body = size.min(MAX_STREAM.saturating_sub(body_start));
        stream.resize(body_start + body, op);
        // A correlation id that differs per frame (as much of it as fits).
        let id = (i as u32).to_be_bytes();
        let id_len = body.min(4);
        stream[body_start..body_start + id_len].copy_from_slice(&id[..id_len]);
    }
    stream
}

/// Plain framing: the complete frames before the stream ends or a size
/// prefix is out of bounds, and whether one was.
fn reference(stream: &[u8], max_frame: usize) -> (Vec<Vec<u8>>, bool) {
    let mut frames = Vec::new();
    let mut rest = stream;
    while let Some(prefix) = rest.get(..4) {
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if size < 0 || size as usize > max_frame {
            return (frames, true);
        }
        let Some(frame) = rest.get(4..4 + size as usize) else {
            break;
        };
        frames.push(frame.to_vec());
        rest = &rest[4 + size as usize..];
    }
    (frames, false)
}
