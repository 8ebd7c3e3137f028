//! The bounds every fetch of an issuer's documents keeps, for the fetcher
//! native APIs use (`ReqwestFetcher`, feature `reqwest`): it gives up after
//! FETCH_TIMEOUT_MS, answers a redirect instead of following it, and stops
//! reading past MAX_DOCUMENT_BYTES. Against real sockets on 127.0.0.1.
#![cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use m2m_edge_verify::{Fetcher, ReqwestFetcher, FETCH_TIMEOUT_MS, MAX_DOCUMENT_BYTES};

/// A server on 127.0.0.1 that reads each request and answers it with
/// `answer` (raw HTTP/1.1 bytes; `None`: it never answers). Returns its
/// origin and how many connections it took.
fn server(answer: Option<Vec<u8>>) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&connections);
    thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            match &answer {
                Some(bytes) => {
                    let _ = stream.write_all(bytes);
                }
                None => held.push(stream),
            }
        }
    });
    (origin, connections)
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn a_hung_server_is_given_up_on_after_the_timeout() {
    let (origin, _) = server(None);
    let started = Instant::now();
    let outcome = run(async {
        tokio::time::timeout(
            Duration::from_millis(u64::from(FETCH_TIMEOUT_MS) + 3000),
            ReqwestFetcher::default().get(&format!("{origin}/jwks"), MAX_DOCUMENT_BYTES),
        )
        .await
    });
    let fetched = outcome.expect("the fetch itself gives up, before the test's own bound");
    assert!(fetched.is_err(), "{fetched:?}");
    assert!(started.elapsed() >= Duration::from_millis(u64::from(FETCH_TIMEOUT_MS) - 100));
}

#[test]
fn a_redirect_is_answered_not_followed() {
    let (elsewhere, visits) = server(Some(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec()));
    let redirect = format!("HTTP/1.1 302 Found\r\nlocation: {elsewhere}/jwks\r\ncontent-length: 0\r\n\r\n");
    let (origin, _) = server(Some(redirect.into_bytes()));
    let fetched = run(ReqwestFetcher::default().get(&format!("{origin}/jwks"), MAX_DOCUMENT_BYTES)).unwrap();
    assert_eq!(fetched.status, 302);
    assert_eq!(visits.load(Ordering::SeqCst), 0, "the other host was never asked");
}

#[test]
fn a_body_over_the_cap_is_not_read() {
    let mut answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", 10 * 1024 * 1024).into_bytes();
    answer.extend(std::iter::repeat_n(b' ', 10 * 1024 * 1024));
    let (origin, _) = server(Some(answer));
    let fetched = run(ReqwestFetcher::default().get(&format!("{origin}/jwks"), MAX_DOCUMENT_BYTES));
    assert!(fetched.is_err(), "a 10 MB body: {:?}", fetched.map(|f| f.body.len()));
    // Chunked, so no Content-Length says so beforehand.
    let mut chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..(MAX_DOCUMENT_BYTES / 1024 + 2) {
        chunked.extend(b"400\r\n");
        chunked.extend([b' '; 1024]);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    let (origin, _) = server(Some(chunked));
    let fetched = run(ReqwestFetcher::default().get(&format!("{origin}/jwks"), MAX_DOCUMENT_BYTES));
    assert!(fetched.is_err(), "a chunked body over the cap: {:?}", fetched.map(|f| f.body.len()));
}
