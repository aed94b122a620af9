//! A second, independent S3 implementation: moto's server (Python, through moto_s3.py),
//! started on loopback for behaviour s3s-fs does not implement, such as the checksums of
//! objects uploaded in parts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BUCKET;

/// A running `moto.server` with an empty bucket [`BUCKET`]; killed when dropped.
pub struct Moto {
    pub addr: SocketAddr,
    child: Child,
}

impl Moto {
    pub fn start() -> Moto {
        // A port the kernel just handed out and took back is free unless something takes it
        // in the moment between; then moto exits at once and is started again on another.
        for _ in 0..3 {
            if let Some(moto) = Moto::launch() {
                return moto;
            }
        }
        panic!("moto.server exited at start three times; is moto[server] installed?");
    }

    fn launch() -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let python = std::env::var("S3OS_PYTHON").unwrap_or_else(|_| "python3".into());
        let launcher = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/moto_s3.py");
        let child = Command::new(&python)
            .args([launcher, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting moto with `{python}` ({e}); scripts/install-deps.sh installs it")
            });
        let mut moto = Moto {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        moto.create_bucket().then_some(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates [`BUCKET`] as soon as the server answers (a server that has just started to
    /// listen may still drop a connection); false if the server exited meanwhile.
    fn create_bucket(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(answer) = self.try_exchange("PUT", &format!("/{BUCKET}"), "") {
                let status = answer.lines().next().unwrap_or_default();
                assert!(status.contains(" 200 "), "creating the bucket: {status}");
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "moto.server did not answer within 60s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The headers of a HEAD of `key` with checksums asked for, names in lower case.
    pub fn head_with_checksums(&self, key: &str) -> Vec<(String, String)> {
        self.exchange(
            "HEAD",
            &format!("/{BUCKET}/{key}"),
            "x-amz-checksum-mode: ENABLED\r\n",
        )
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect()
    }

    /// How many multipart uploads moto holds that were neither completed nor aborted.
    pub fn unfinished_uploads(&self) -> usize {
        let answer = self.exchange("GET", &format!("/{BUCKET}?uploads"), "");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answer.matches("<UploadId>").count()
    }

    /// Sends an unsigned request head (moto does not check signatures; `extra` holds further
    /// header lines) and reads the whole answer.
    fn exchange(&self, method: &str, path: &str, extra: &str) -> String {
        self.try_exchange(method, path, extra)
            .unwrap_or_else(|e| panic!("{method} {path} to moto: {e}"))
    }

    fn try_exchange(&self, method: &str, path: &str, extra: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(self.addr)?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n",
            self.addr
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Stores `data` under `key` in one PUT from the AWS SDK itself, with the whole-object
    /// checksum of `algorithm` (as other SDKs upload: CRC32 is boto3's default).
    pub fn put_with_checksum(
        &self,
        key: &str,
        data: Vec<u8>,
        algorithm: aws_sdk_s3::types::ChecksumAlgorithm,
    ) {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .endpoint_url(self.endpoint())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                super::ACCESS_KEY,
                super::SECRET_KEY,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(
                client
                    .put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .checksum_algorithm(algorithm)
                    .body(data.into())
                    .send(),
            )
            .expect("a PUT with a checksum");
    }
}
