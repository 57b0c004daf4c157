//! qnpeer: quinn 0.9 (+ rustls 0.20 / ring 0.16) loopback interop peer, built offline from Debian crates.
//!   qnpeer server --listen 127.0.0.1:4900 --cert c.pem --key k.pem [--www dir] [--retry] [--chacha]
//!                 [--alpn echo,hq-interop] [--ku] [--client-ca ca.pem]
//!   (--ku: force a key update before answering each hq-interop request; --client-ca: require a client
//!    certificate chaining to that CA.)
//!   qnpeer client --addr 127.0.0.1:4900 [--alpn echo|hq-interop] [--sni localhost] [--size N] [--streams N]
//!                 [--datagram] [--chacha] [--resume] [--0rtt] [--ku] [--migrate] [--out dir]
//!                 [--cert c.pem --key k.pem] [paths...]   (--cert/--key: client certificate)
//! Key log: SSLKEYLOGFILE (rustls KeyLogFile).  ALPN "echo": bidi streams echoed (to FIN), one uni stream
//! echoed on a server uni stream, DATAGRAMs echoed.  ALPN "hq-interop": "GET /path\r\n" -> file, FIN.
use std::{collections::HashMap, error::Error, fs, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

struct Args { kv: HashMap<String, String>, flags: Vec<String>, rest: Vec<String> }
impl Args {
    fn parse(v: &[String]) -> Args {
        let mut a = Args { kv: HashMap::new(), flags: vec![], rest: vec![] };
        let mut i = 0;
        while i < v.len() {
            if let Some(k) = v[i].strip_prefix("--") {
                if i + 1 < v.len() && !v[i + 1].starts_with("--") && !["retry", "chacha", "datagram", "resume", "0rtt", "ku", "migrate", "no-uni"].contains(&k) {
                    a.kv.insert(k.to_string(), v[i + 1].clone()); i += 2; continue;
                }
                a.flags.push(k.to_string());
            } else { a.rest.push(v[i].clone()); }
            i += 1;
        }
        a
    }
    fn get(&self, k: &str, d: &str) -> String { self.kv.get(k).cloned().unwrap_or_else(|| d.to_string()) }
    fn flag(&self, k: &str) -> bool { self.flags.iter().any(|f| f == k) }
}

fn suites(chacha: bool) -> Vec<rustls::SupportedCipherSuite> {
    if chacha { vec![rustls::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256] } else { rustls::DEFAULT_CIPHER_SUITES.to_vec() }
}

fn load(cert: &str, key: &str) -> Res<(Vec<rustls::Certificate>, rustls::PrivateKey)> {
    let certs = rustls_pemfile::certs(&mut &*fs::read(cert)?)?.into_iter().map(rustls::Certificate).collect();
    for item in rustls_pemfile::read_all(&mut &*fs::read(key)?)? {
        match item {
            rustls_pemfile::Item::PKCS8Key(k) | rustls_pemfile::Item::RSAKey(k) | rustls_pemfile::Item::ECKey(k) => return Ok((certs, rustls::PrivateKey(k))),
            _ => {}
        }
    }
    Err("no private key found".into())
}

fn alpn_of(conn: &quinn::Connection) -> String {
    conn.handshake_data()
        .and_then(|h| h.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|h| h.protocol.clone())
        .map(|p| String::from_utf8_lossy(&p).into_owned())
        .unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() < 2 { eprintln!("usage: qnpeer server|client [options]"); std::process::exit(2); }
    let a = Args::parse(&argv[2..]);
    let r = match argv[1].as_str() { "server" => server(a).await, "client" => client(a).await, _ => Err("bad mode".into()) };
    match r {
        Ok(()) => { if argv[1] == "client" { println!("CLIENT OK"); } }
        Err(e) => { println!("FAILED: {e}"); std::process::exit(1); }
    }
}

// ------------------------------------------------------------------ server
async fn server(a: Args) -> Res<()> {
    let (certs, key) = load(&a.get("cert", "cert.pem"), &a.get("key", "key.pem"))?;
    let builder = rustls::ServerConfig::builder()
        .with_cipher_suites(&suites(a.flag("chacha")))
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let mut tls = match a.kv.get("client-ca") {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pemfile::certs(&mut &*fs::read(ca)?)? { roots.add(&rustls::Certificate(c))?; }
            builder.with_client_cert_verifier(rustls::server::AllowAnyAuthenticatedClient::new(roots)).with_single_cert(certs, key)?
        }
        None => builder.with_no_client_auth().with_single_cert(certs, key)?,
    };
    tls.alpn_protocols = a.get("alpn", "echo,hq-interop").split(',').map(|s| s.as_bytes().to_vec()).collect();
    tls.max_early_data_size = u32::MAX; // enables 0-RTT
    tls.key_log = Arc::new(rustls::KeyLogFile::new());
    let mut sc = quinn::ServerConfig::with_crypto(Arc::new(tls));
    sc.use_retry(a.flag("retry"));
    let listen: SocketAddr = a.get("listen", "127.0.0.1:4900").parse()?;
    let ep = quinn::Endpoint::server(sc, listen)?;
    println!("quinn server on {} retry={}", ep.local_addr()?, a.flag("retry"));
    let www = PathBuf::from(a.get("www", "."));
    let ku = a.flag("ku");
    while let Some(connecting) = ep.accept().await {
        let www = www.clone();
        tokio::spawn(async move {
            // server side: into_0rtt always succeeds (0.5-RTT data; 0-RTT accepted if the client offers it)
            let conn = match connecting.into_0rtt() { Ok((c, _)) => c, Err(c) => match c.await { Ok(c) => c, Err(e) => { println!("handshake failed: {e}"); return; } } };
            let alpn = alpn_of(&conn);
            println!("conn from {} alpn={alpn:?}", conn.remote_address());
            if alpn == "hq-interop" { serve_hq(conn, www, ku).await } else { serve_echo(conn).await }
        });
    }
    Ok(())
}

async fn serve_hq(conn: quinn::Connection, www: PathBuf, ku: bool) {
    while let Ok((mut send, recv)) = conn.accept_bi().await {
        let www = www.clone();
        let c2 = conn.clone();
        tokio::spawn(async move {
            let req = match recv.read_to_end(4096).await { Ok(r) => r, Err(_) => return };
            if ku { c2.force_key_update(); }
            let line = String::from_utf8_lossy(&req).to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').replace("..", "");
            match fs::read(www.join(path)) {
                Ok(data) => { let _ = send.write_all(&data).await; let _ = send.finish().await; }
                Err(_) => { let _ = send.reset(1u32.into()); }
            }
        });
    }
}

async fn serve_echo(conn: quinn::Connection) {
    let c2 = conn.clone();
    tokio::spawn(async move {
        while let Ok(recv) = c2.accept_uni().await {
            let c3 = c2.clone();
            tokio::spawn(async move {
                if let Ok(data) = recv.read_to_end(64 << 20).await {
                    if let Ok(mut s) = c3.open_uni().await { let _ = s.write_all(&data).await; let _ = s.finish().await; }
                }
            });
        }
    });
    let c4 = conn.clone();
    tokio::spawn(async move { while let Ok(d) = c4.read_datagram().await { let _ = c4.send_datagram(d); } });
    loop {
        match conn.accept_bi().await {
            Ok((mut send, recv)) => { tokio::spawn(async move {
                if let Ok(data) = recv.read_to_end(64 << 20).await { let _ = send.write_all(&data).await; let _ = send.finish().await; }
            }); }
            Err(e) => { println!("conn {} closed: {e}", conn.remote_address()); return; }
        }
    }
}

// ------------------------------------------------------------------ client
struct NoVerify;
impl rustls::client::ServerCertVerifier for NoVerify {
    fn verify_server_cert(&self, _e: &rustls::Certificate, _i: &[rustls::Certificate], _n: &rustls::ServerName,
        _s: &mut dyn Iterator<Item = &[u8]>, _o: &[u8], _t: std::time::SystemTime) -> Result<rustls::client::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::ServerCertVerified::assertion()) // chain not checked; CertificateVerify signature still is
    }
}

async fn client(a: Args) -> Res<()> {
    let builder = rustls::ClientConfig::builder()
        .with_cipher_suites(&suites(a.flag("chacha")))
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_custom_certificate_verifier(Arc::new(NoVerify));
    let mut tls = match a.kv.get("cert") {
        Some(c) => { let (certs, key) = load(c, &a.get("key", "key.pem"))?; builder.with_single_cert(certs, key)? }
        None => builder.with_no_client_auth(),
    };
    let alpn = a.get("alpn", "echo");
    tls.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    tls.enable_early_data = true;
    tls.key_log = Arc::new(rustls::KeyLogFile::new());
    let addr: SocketAddr = a.get("addr", "127.0.0.1:4900").parse()?;
    let local = if addr.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" };
    let mut ep = quinn::Endpoint::client(local.parse()?)?;
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(tls)));
    let sni = a.get("sni", "localhost");
    let rounds = if a.flag("resume") || a.flag("0rtt") { 2 } else { 1 };
    for round in 1..=rounds {
        let connecting = ep.connect(addr, &sni)?;
        let (conn, zrtt) = if round == 2 && a.flag("0rtt") {
            match connecting.into_0rtt() {
                Ok((c, acc)) => (c, Some(acc)),
                Err(_) => return Err("no 0-RTT keys (session ticket not received?)".into()),
            }
        } else { (connecting.await?, None) };
        if a.flag("ku") { conn.force_key_update(); }
        if a.flag("migrate") {
            ep.rebind(std::net::UdpSocket::bind(local)?)?;
            println!("rebound client socket to {}", ep.local_addr()?);
        }
        let t = tokio::time::timeout(Duration::from_secs(15), work(&a, &conn, &alpn)).await;
        if a.flag("ku") { conn.force_key_update(); }
        match t { Ok(r) => r?, Err(_) => return Err("timeout".into()) }
        if let Some(acc) = zrtt {
            let ok = acc.await;
            println!("conn {round}: 0-RTT accepted = {ok}");
            if !ok { return Err("0-RTT rejected".into()); }
        }
        println!("conn {round}: alpn={:?} remote={} rtt={:?}", alpn_of(&conn), conn.remote_address(), conn.rtt());
        conn.close(0u32.into(), b"bye");
        if round == 1 && rounds == 2 { tokio::time::sleep(Duration::from_millis(100)).await; }
    }
    ep.wait_idle().await;
    Ok(())
}

async fn work(a: &Args, conn: &quinn::Connection, alpn: &str) -> Res<()> {
    if alpn == "hq-interop" {
        for p in &a.rest {
            let (mut s, r) = conn.open_bi().await?;
            s.write_all(format!("GET {p}\r\n").as_bytes()).await?;
            s.finish().await?;
            let body = r.read_to_end(256 << 20).await?;
            println!("hq-interop GET {p} -> {} bytes", body.len());
            if let Some(dir) = a.kv.get("out") { fs::write(PathBuf::from(dir).join(p.trim_start_matches('/')), &body)?; }
        }
        return Ok(());
    }
    let size: usize = a.get("size", "100000").parse()?;
    let n: usize = a.get("streams", "2").parse()?;
    let mut tasks = vec![];
    for i in 0..n {
        let (mut s, r) = conn.open_bi().await?;
        let data: Vec<u8> = (0..size).map(|j| ((j * 7 + i * 13) % 251) as u8).collect();
        tasks.push(tokio::spawn(async move {
            let w = async { s.write_all(&data).await?; s.finish().await?; Ok::<(), Box<dyn Error + Send + Sync>>(()) };
            let (wr, got) = tokio::join!(w, r.read_to_end(size + 1));
            wr?;
            let got = got?;
            if got != data { return Err::<(), Box<dyn Error + Send + Sync>>(format!("echo mismatch on stream {i}").into()); }
            println!("bidi stream {i}: {} bytes echoed OK", got.len());
            Ok(())
        }));
    }
    if !a.flag("no-uni") {
        let mut u = conn.open_uni().await?;
        let msg = vec![b'u'; 1000];
        u.write_all(&msg).await?; u.finish().await?;
        let back = conn.accept_uni().await?.read_to_end(10000).await?;
        if back != msg { return Err("uni echo mismatch".into()); }
        println!("uni stream: {} bytes echoed OK", back.len());
    }
    if a.flag("datagram") {
        match conn.max_datagram_size() { Some(m) => println!("peer max datagram payload {m}"), None => return Err("peer does not support datagrams".into()) }
        for i in 0..3 {
            let m = bytes::Bytes::from(format!("datagram-{i}"));
            conn.send_datagram(m.clone())?;
            let got = tokio::time::timeout(Duration::from_secs(2), conn.read_datagram()).await.map_err(|_| "datagram echo timeout")??;
            if got != m { return Err("datagram mismatch".into()); }
            println!("datagram {:?} echoed OK", String::from_utf8_lossy(&got));
        }
    }
    for t in tasks { t.await??; }
    Ok(())
}
