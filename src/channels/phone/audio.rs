//! Audio as telephony systems send it, turned into what Whisper reads: 16 kHz mono samples
//! in [-1, 1]. WAV (PCM, float, µ-law, A-law) and raw G.711 µ-law/A-law or L16 bodies;
//! anything else, empty, silent, damaged or too long audio is refused with an error that
//! says which, never guessed at.

use rubato::{FftFixedIn, Resampler};

/// The sample rate Whisper works at.
pub const WHISPER_RATE: u32 = 16_000;
/// Narrowband telephony (G.711).
pub const TELEPHONY_RATE: u32 = 8_000;
/// Rates accepted at all: from narrowband telephony up to studio recordings.
const RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;
/// Below this RMS level (about -60 dBFS) a recording holds no speech worth transcribing:
/// Whisper would invent words for it.
const SILENCE_RMS: f32 = 0.001;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    #[error("the audio is empty")]
    Empty,
    #[error("the audio holds no speech (silence)")]
    Silent,
    #[error("the audio is damaged: {0}")]
    Broken(String),
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
    #[error("the audio is {seconds:.1} s long; at most {max} s are accepted")]
    TooLong { seconds: f32, max: u32 },
}

/// How an utterance's bytes are encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A RIFF/WAVE file; its header says the rest.
    Wav,
    /// Raw G.711 µ-law at 8 kHz (`audio/basic`, `audio/PCMU`).
    Mulaw,
    /// Raw G.711 A-law at 8 kHz (`audio/PCMA`).
    Alaw,
    /// Raw 16-bit big-endian PCM (`audio/L16;rate=…`, RFC 3551).
    L16 { rate: u32 },
}

impl Encoding {
    /// The encoding a media type names; parameters other than `rate` (L16) are ignored.
    pub fn from_media_type(content_type: &str) -> Result<Encoding, AudioError> {
        let mut parts = content_type.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
        let param = |name: &str| {
            content_type
                .split(';')
                .skip(1)
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
        };
        match essence.as_str() {
            "audio/wav" | "audio/wave" | "audio/x-wav" | "audio/vnd.wave" => Ok(Encoding::Wav),
            "audio/basic" | "audio/pcmu" | "audio/x-mulaw" | "audio/mulaw" => {
                rate_is_telephony(param("rate"))?;
                Ok(Encoding::Mulaw)
            }
            "audio/pcma" | "audio/x-alaw" | "audio/alaw" => {
                rate_is_telephony(param("rate"))?;
                Ok(Encoding::Alaw)
            }
            "audio/l16" => {
                let rate = match param("rate") {
                    Some(r) => r.parse().map_err(|_| {
                        AudioError::Unsupported(format!("audio/L16 with rate '{r}'"))
                    })?,
                    None => TELEPHONY_RATE,
                };
                if param("channels").is_some_and(|c| c != "1") {
                    return Err(AudioError::Unsupported(
                        "audio/L16 with more than one channel".into(),
                    ));
                }
                check_rate(rate)?;
                Ok(Encoding::L16 { rate })
            }
            "" => Err(AudioError::Unsupported("no Content-Type given".into())),
            other => Err(AudioError::Unsupported(format!(
                "'{other}' (send audio/wav, audio/PCMU, audio/PCMA or audio/L16)"
            ))),
        }
    }
}

impl Encoding {
    /// The encoding a recording's file name suggests: raw G.711 for `.ul`/`.ulaw`/`.pcmu`
    /// and `.al`/`.alaw`/`.pcma` (Asterisk's names), WAV otherwise.
    pub fn for_file_name(path: &std::path::Path) -> Encoding {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        match ext.as_str() {
            "ul" | "ulaw" | "mulaw" | "pcmu" | "u8" => Encoding::Mulaw,
            "al" | "alaw" | "pcma" | "a8" => Encoding::Alaw,
            _ => Encoding::Wav,
        }
    }
}

fn rate_is_telephony(rate: Option<String>) -> Result<(), AudioError> {
    match rate {
        None => Ok(()),
        Some(r) if r == "8000" => Ok(()),
        Some(r) => Err(AudioError::Unsupported(format!(
            "G.711 at {r} Hz (it is sent at 8000 Hz)"
        ))),
    }
}

fn check_rate(rate: u32) -> Result<(), AudioError> {
    if RATES.contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::Unsupported(format!(
            "a sample rate of {rate} Hz (accepted: 8000 to 48000 Hz)"
        )))
    }
}

/// Decoded speech, ready for Whisper.
#[derive(Debug, Clone)]
pub struct Audio {
    /// Mono samples at [`WHISPER_RATE`].
    pub samples: Vec<f32>,
    /// The rate it arrived at.
    pub source_rate: u32,
}

/// Decodes, mixes down to mono and resamples to 16 kHz; refuses audio longer than
/// `max_seconds` before doing any work on it.
pub fn decode(bytes: &[u8], encoding: Encoding, max_seconds: u32) -> Result<Audio, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let (format, rate, channels, data) = match encoding {
        Encoding::Wav => {
            let wav = parse_wav(bytes)?;
            (wav.format, wav.rate, wav.channels, wav.data)
        }
        Encoding::Mulaw => (SampleFormat::Mulaw, TELEPHONY_RATE, 1, bytes),
        Encoding::Alaw => (SampleFormat::Alaw, TELEPHONY_RATE, 1, bytes),
        Encoding::L16 { rate } => (SampleFormat::Pcm16Be, rate, 1, bytes),
    };
    let frame = format.bytes() * channels as usize;
    let frames = data.len() / frame;
    if frames == 0 {
        return Err(AudioError::Empty);
    }
    let seconds = frames as f32 / rate as f32;
    if seconds > max_seconds as f32 {
        return Err(AudioError::TooLong {
            seconds,
            max: max_seconds,
        });
    }
    let mono: Vec<f32> = data
        .chunks_exact(frame)
        .map(|f| {
            let sum: f32 = f
                .chunks_exact(format.bytes())
                .map(|s| format.sample(s))
                .sum();
            sum / channels as f32
        })
        .collect();
    let rms = (mono.iter().map(|s| s * s).sum::<f32>() / mono.len() as f32).sqrt();
    if !rms.is_finite() {
        return Err(AudioError::Broken("samples are not numbers".into()));
    }
    if rms < SILENCE_RMS {
        return Err(AudioError::Silent);
    }
    Ok(Audio {
        samples: resample(&mono, rate)?,
        source_rate: rate,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleFormat {
    U8,
    Pcm16Le,
    Pcm16Be,
    Pcm24Le,
    Pcm32Le,
    Float32Le,
    Mulaw,
    Alaw,
}

impl SampleFormat {
    fn bytes(self) -> usize {
        match self {
            SampleFormat::U8 | SampleFormat::Mulaw | SampleFormat::Alaw => 1,
            SampleFormat::Pcm16Le | SampleFormat::Pcm16Be => 2,
            SampleFormat::Pcm24Le => 3,
            SampleFormat::Pcm32Le | SampleFormat::Float32Le => 4,
        }
    }

    fn sample(self, b: &[u8]) -> f32 {
        match self {
            SampleFormat::U8 => (b[0] as f32 - 128.0) / 128.0,
            SampleFormat::Pcm16Le => i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0,
            SampleFormat::Pcm16Be => i16::from_be_bytes([b[0], b[1]]) as f32 / 32768.0,
            SampleFormat::Pcm24Le => {
                (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
            }
            SampleFormat::Pcm32Le => {
                i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0
            }
            SampleFormat::Float32Le => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            SampleFormat::Mulaw => mulaw(b[0]) as f32 / 32768.0,
            SampleFormat::Alaw => alaw(b[0]) as f32 / 32768.0,
        }
    }
}

/// G.711 µ-law to linear 16-bit.
pub fn mulaw(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = (u & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// G.711 A-law to linear 16-bit.
pub fn alaw(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = (a & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // In A-law a set sign bit means positive.
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

struct Wav<'a> {
    format: SampleFormat,
    rate: u32,
    channels: u16,
    data: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The format and the sample bytes of a RIFF/WAVE file. A data chunk whose stated size
/// runs past the end (as streaming writers leave it) is read up to the end.
fn parse_wav(b: &[u8]) -> Result<Wav<'_>, AudioError> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(if b.len() >= 4 && &b[0..4] == b"RIFF" {
            AudioError::Broken("a RIFF file but not WAVE".into())
        } else {
            AudioError::Broken("not a WAV file (no RIFF/WAVE header)".into())
        });
    }
    let mut at = 12;
    let mut fmt: Option<(SampleFormat, u32, u16)> = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let size = u32_at(b, at + 4) as usize;
        let body = at + 8;
        match id {
            b"fmt " => {
                if size < 16 || body + 16 > b.len() {
                    return Err(AudioError::Broken("the fmt chunk is cut short".into()));
                }
                let mut tag = u16_at(b, body);
                let channels = u16_at(b, body + 2);
                let rate = u32_at(b, body + 4);
                let bits = u16_at(b, body + 14);
                if tag == 0xFFFE {
                    // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID.
                    if size < 40 || body + 26 > b.len() {
                        return Err(AudioError::Broken(
                            "the extensible fmt chunk is cut short".into(),
                        ));
                    }
                    tag = u16_at(b, body + 24);
                }
                let format = match (tag, bits) {
                    (1, 8) => SampleFormat::U8,
                    (1, 16) => SampleFormat::Pcm16Le,
                    (1, 24) => SampleFormat::Pcm24Le,
                    (1, 32) => SampleFormat::Pcm32Le,
                    (3, 32) => SampleFormat::Float32Le,
                    (6, 8) => SampleFormat::Alaw,
                    (7, 8) => SampleFormat::Mulaw,
                    (1 | 3 | 6 | 7, bits) => {
                        return Err(AudioError::Unsupported(format!(
                            "WAV with {bits}-bit samples of format {tag}"
                        )));
                    }
                    (tag, _) => {
                        return Err(AudioError::Unsupported(format!(
                            "WAV format tag {tag:#06x} (compressed audio; send PCM, µ-law or A-law)"
                        )));
                    }
                };
                if !(1..=2).contains(&channels) {
                    return Err(AudioError::Unsupported(format!(
                        "WAV with {channels} channels (send mono)"
                    )));
                }
                check_rate(rate)?;
                fmt = Some((format, rate, channels));
            }
            b"data" => {
                let Some((format, rate, channels)) = fmt else {
                    return Err(AudioError::Broken(
                        "the data chunk comes before the format".into(),
                    ));
                };
                let end = body.saturating_add(size).min(b.len());
                return Ok(Wav {
                    format,
                    rate,
                    channels,
                    data: &b[body.min(end)..end],
                });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(AudioError::Broken(if fmt.is_none() {
        "no fmt chunk".into()
    } else {
        "no data chunk".into()
    }))
}

/// Band-limited resampling to 16 kHz (FFT-based, synchronous): narrowband telephony keeps
/// its 4 kHz of speech without the aliasing that linear interpolation adds.
fn resample(input: &[f32], from: u32) -> Result<Vec<f32>, AudioError> {
    if from == WHISPER_RATE {
        return Ok(input.to_vec());
    }
    const CHUNK: usize = 1024;
    let broken = |e: &dyn std::fmt::Display| AudioError::Broken(format!("resampling failed: {e}"));
    let mut resampler = FftFixedIn::<f32>::new(from as usize, WHISPER_RATE as usize, CHUNK, 2, 1)
        .map_err(|e| broken(&e))?;
    let delay = resampler.output_delay();
    let expected = (input.len() as u64 * WHISPER_RATE as u64 / from as u64) as usize;
    let mut out = Vec::with_capacity(expected + delay + 2 * CHUNK);
    let mut chunks = input.chunks_exact(CHUNK);
    for chunk in &mut chunks {
        let block = resampler.process(&[chunk], None).map_err(|e| broken(&e))?;
        out.extend_from_slice(&block[0]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let block = resampler
            .process_partial(Some(&[rest]), None)
            .map_err(|e| broken(&e))?;
        out.extend_from_slice(&block[0]);
    }
    // Flush what the filter still holds. Its output comes a whole FFT block at a time, and at
    // a rate that shares few factors with 16 kHz (44,101 Hz) a block takes a second of input:
    // many calls give nothing before one gives a block. Enough zeros for the rest and one
    // more block, and no more, end the flush.
    let mut calls = ((expected + delay) * from as usize / WHISPER_RATE as usize
        + 2 * (from as usize + CHUNK))
        / CHUNK
        + 1;
    while out.len() < expected + delay && calls > 0 {
        calls -= 1;
        let block = resampler
            .process_partial(None::<&[&[f32]]>, None)
            .map_err(|e| broken(&e))?;
        out.extend_from_slice(&block[0]);
    }
    out.drain(..delay.min(out.len()));
    out.truncate(expected);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(format: u16, bits: u16, rate: u32, channels: u16, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&format.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        let align = channels * bits / 8;
        b.extend_from_slice(&(rate * align as u32).to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        b
    }

    fn tone(rate: u32, seconds: f32, hz: f32) -> Vec<i16> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 12000.0) as i16)
            .collect()
    }

    fn pcm16(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn g711_reference_values() {
        // ITU-T G.711 end points and zero.
        assert_eq!(mulaw(0xFF), 0);
        assert_eq!(mulaw(0x7F), 0);
        assert_eq!(mulaw(0x80), 32124);
        assert_eq!(mulaw(0x00), -32124);
        assert_eq!(alaw(0xD5), 8);
        assert_eq!(alaw(0x55), -8);
        assert_eq!(alaw(0xAA), 32256);
        assert_eq!(alaw(0x2A), -32256);
    }

    #[test]
    fn an_8khz_tone_arrives_at_16khz_with_its_length_and_pitch() {
        let data = pcm16(&tone(8000, 1.0, 440.0));
        let audio = decode(&wav(1, 16, 8000, 1, &data), Encoding::Wav, 30).unwrap();
        assert_eq!(audio.source_rate, 8000);
        assert_eq!(audio.samples.len(), 16000);
        // 440 Hz: 880 zero crossings a second, whatever the rate.
        let crossings = audio
            .samples
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!(
            (870..=890).contains(&crossings),
            "{crossings} zero crossings"
        );
        let peak = audio.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.33..0.40).contains(&peak), "peak {peak}");
    }

    #[test]
    fn a_rate_with_few_factors_in_common_with_16khz_keeps_the_whole_recording() {
        // At 44,101 Hz the resampler gives its output a second of input at a time; the flush
        // stopped at the first call without output and cut the end off (half of a second, all
        // of a shorter recording). Found by `tests/fuzz`.
        for (rate, seconds) in [(44_101, 1.0), (47_627, 0.3), (8_001, 2.5), (44_100, 1.0)] {
            let samples: Vec<u8> = tone(rate, seconds, 300.0)
                .iter()
                .flat_map(|s| s.to_be_bytes())
                .collect();
            let audio = decode(&samples, Encoding::L16 { rate }, 30).unwrap();
            let expected = (samples.len() / 2) as u64 * 16_000 / rate as u64;
            assert_eq!(audio.samples.len() as u64, expected, "at {rate} Hz");
            let tail = &audio.samples[audio.samples.len() * 9 / 10..];
            assert!(
                tail.iter().any(|s| s.abs() > 0.1),
                "the end is heard at {rate} Hz"
            );
        }
    }

    #[test]
    fn stereo_is_mixed_down_and_16khz_passes_unchanged() {
        let left = tone(16000, 0.5, 300.0);
        let data: Vec<u8> = left
            .iter()
            .flat_map(|s| [s.to_le_bytes(), s.to_le_bytes()])
            .flatten()
            .collect();
        let audio = decode(&wav(1, 16, 16000, 2, &data), Encoding::Wav, 30).unwrap();
        assert_eq!(audio.samples.len(), 8000);
        assert!((audio.samples[100] - left[100] as f32 / 32768.0).abs() < 1e-6);
    }

    #[test]
    fn raw_and_wav_mulaw_decode_alike() {
        let bytes: Vec<u8> = (0..8000u32).map(|i| (i % 200) as u8).collect();
        let raw = decode(&bytes, Encoding::Mulaw, 30).unwrap();
        let wrapped = decode(&wav(7, 8, 8000, 1, &bytes), Encoding::Wav, 30).unwrap();
        assert_eq!(raw.samples, wrapped.samples);
        let alaw = decode(&wav(6, 8, 8000, 1, &bytes), Encoding::Wav, 30).unwrap();
        assert_eq!(alaw.samples.len(), 16000);
    }

    #[test]
    fn bad_audio_gets_an_error_that_says_what() {
        assert_eq!(
            decode(b"", Encoding::Wav, 30).unwrap_err(),
            AudioError::Empty
        );
        assert_eq!(
            decode(&wav(1, 16, 8000, 1, &[]), Encoding::Wav, 30).unwrap_err(),
            AudioError::Empty
        );
        assert_eq!(
            decode(&wav(1, 16, 8000, 1, &[0; 16000]), Encoding::Wav, 30).unwrap_err(),
            AudioError::Silent
        );
        assert!(matches!(
            decode(b"ID3\x03 an mp3 file", Encoding::Wav, 30),
            Err(AudioError::Broken(_))
        ));
        let mut cut = wav(1, 16, 8000, 1, &pcm16(&tone(8000, 0.2, 300.0)));
        cut.truncate(30);
        assert!(matches!(
            decode(&cut, Encoding::Wav, 30),
            Err(AudioError::Broken(_))
        ));
        assert!(matches!(
            decode(&wav(0x55, 0, 8000, 1, &[1, 2, 3]), Encoding::Wav, 30),
            Err(AudioError::Unsupported(_))
        ));
        assert!(matches!(
            decode(
                &wav(1, 16, 4000, 1, &pcm16(&tone(4000, 0.5, 300.0))),
                Encoding::Wav,
                30
            ),
            Err(AudioError::Unsupported(_))
        ));
        let long = pcm16(&tone(8000, 3.0, 300.0));
        assert_eq!(
            decode(&wav(1, 16, 8000, 1, &long), Encoding::Wav, 2).unwrap_err(),
            AudioError::TooLong {
                seconds: 3.0,
                max: 2
            }
        );
    }

    #[test]
    fn media_types() {
        assert_eq!(
            Encoding::from_media_type("audio/wav").unwrap(),
            Encoding::Wav
        );
        assert_eq!(
            Encoding::from_media_type("audio/PCMU; rate=8000").unwrap(),
            Encoding::Mulaw
        );
        assert_eq!(
            Encoding::from_media_type("audio/PCMA").unwrap(),
            Encoding::Alaw
        );
        assert_eq!(
            Encoding::from_media_type("audio/L16;rate=16000").unwrap(),
            Encoding::L16 { rate: 16000 }
        );
        assert!(Encoding::from_media_type("audio/PCMU;rate=16000").is_err());
        assert!(Encoding::from_media_type("audio/mpeg").is_err());
        assert!(Encoding::from_media_type("").is_err());
    }
}
