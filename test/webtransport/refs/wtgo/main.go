// wtgo - minimal WebTransport-over-HTTP/3 echo server on Debian's quic-go 0.29 (http3 hijacker hooks),
// the reference server of ../shared/webtransport (its recipe's program, kept here so the project stands
// alone), used by test/webtransport/refs.test.ts to check quic-peer's WebTransport client against
// another implementation. Built offline in GOPATH mode by refs.ts (GO111MODULE=off
// GOPATH=<tmp>:/usr/share/gocode).  Loopback only.
//   wtgo -listen 127.0.0.1:0 -cert c.pem -key k.pem [-settings 0x8=1,0x33=1,0x2b603742=1] [-draft-header draft02]
//        [-no-datagram-tp] [-status 200]
// Prints {"port":N} on stdout; logs to stderr.  Per session: echoes client bidi streams (then FIN), logs client
// uni streams, echoes datagrams, opens a server uni stream ("hello from server uni" + FIN), logs capsules.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
	"github.com/lucas-clemente/quic-go/quicvarint"
)

type session struct{ conn quic.Connection }

var (
	mu       sync.Mutex
	sessions = map[quic.Connection]map[uint64]bool{}
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "")
	certF := flag.String("cert", "", "")
	keyF := flag.String("key", "", "")
	settings := flag.String("settings", "0x8=1,0x33=1,0x2b603742=1", "H3 SETTINGS sent (besides none); id=value list")
	draftHdr := flag.String("draft-header", "draft02", "value of sec-webtransport-http3-draft response header (empty: omit)")
	noDgramTP := flag.Bool("no-datagram-tp", false, "do not send max_datagram_frame_size")
	status := flag.Int("status", 200, "response status for the CONNECT")
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("[wtgo] ")
	cert, err := tls.LoadX509KeyPair(*certF, *keyF)
	if err != nil {
		log.Fatal(err)
	}
	extra := map[uint64]uint64{}
	for _, kv := range strings.Split(*settings, ",") {
		if kv == "" {
			continue
		}
		p := strings.SplitN(kv, "=", 2)
		k, err1 := strconv.ParseUint(p[0], 0, 64)
		v, err2 := strconv.ParseUint(p[1], 0, 64)
		if err1 != nil || err2 != nil {
			log.Fatalf("bad setting %q", kv)
		}
		extra[k] = v
	}
	udp, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	b, _ := json.Marshal(map[string]int{"port": port})
	fmt.Println(string(b))
	log.Printf("listening on %s, settings %v, draft header %q", udp.LocalAddr(), extra, *draftHdr)

	srv := &http3.Server{
		TLSConfig:          &tls.Config{Certificates: []tls.Certificate{cert}},
		QuicConfig:         &quic.Config{EnableDatagrams: !*noDgramTP},
		EnableDatagrams:    false, // would add the old 0xffd277 setting; we send what -settings says
		AdditionalSettings: extra,
		StreamHijacker: func(ft http3.FrameType, conn quic.Connection, str quic.Stream, err error) (bool, error) {
			if err != nil || ft != 0x41 {
				return false, nil
			}
			r := quicvarint.NewReader(str)
			sid, err := quicvarint.Read(r)
			if err != nil {
				return false, err
			}
			go func() {
				n, _ := io.Copy(str, str)
				str.Close()
				log.Printf("bidi stream %d (session %d): echoed %d bytes + FIN", str.StreamID(), sid, n)
			}()
			return true, nil
		},
		UniStreamHijacker: func(st http3.StreamType, conn quic.Connection, str quic.ReceiveStream, err error) bool {
			if err != nil || st != 0x54 {
				if err == nil {
					log.Printf("uni stream %d of type 0x%x ignored", str.StreamID(), uint64(st))
				}
				return false
			}
			go func() {
				r := quicvarint.NewReader(str)
				sid, _ := quicvarint.Read(r)
				d, _ := io.ReadAll(str)
				log.Printf("uni stream %d (session %d): %d bytes %q + FIN", str.StreamID(), sid, len(d), string(d))
			}()
			return true
		},
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("request %s %s proto=%q headers=%v", r.Method, r.URL.String(), r.Proto, r.Header)
		if r.Method != http.MethodConnect || r.Proto != "webtransport" {
			w.WriteHeader(404)
			return
		}
		str := r.Body.(http3.HTTPStreamer).HTTPStream()
		sid := uint64(str.StreamID())
		conn := w.(http3.Hijacker).StreamCreator().(quic.Connection)
		if *draftHdr != "" {
			w.Header().Set("sec-webtransport-http3-draft", *draftHdr)
		}
		w.WriteHeader(*status)
		w.(http.Flusher).Flush()
		log.Printf("session %d accepted (status %d)", sid, *status)
		if *status < 200 || *status > 299 {
			str.Close()
			return
		}
		go func() { // capsules on the CONNECT stream (inside DATA frames)
			br := bufio.NewReader(str)
			qr := quicvarint.NewReader(br)
			for {
				t, err := quicvarint.Read(qr)
				if err != nil {
					log.Printf("session %d: CONNECT stream ended: %v", sid, err)
					str.Close()
					return
				}
				l, _ := quicvarint.Read(qr)
				v := make([]byte, l)
				io.ReadFull(br, v)
				if t == 0x2843 && len(v) >= 4 {
					log.Printf("session %d: capsule CLOSE_WEBTRANSPORT_SESSION code=%d reason=%q", sid, uint32(v[0])<<24|uint32(v[1])<<16|uint32(v[2])<<8|uint32(v[3]), string(v[4:]))
				} else {
					log.Printf("session %d: capsule type 0x%x len %d", sid, t, l)
				}
			}
		}()
		mu.Lock()
		first := sessions[conn] == nil
		if first {
			sessions[conn] = map[uint64]bool{}
		}
		sessions[conn][sid] = true
		mu.Unlock()
		if first && !*noDgramTP {
			go func() {
				for {
					m, err := conn.ReceiveMessage()
					if err != nil {
						log.Printf("QUIC connection ended: %v", err)
						return
					}
					q, n := readVarint(m)
					log.Printf("datagram: quarter stream id %d (session %d), %d bytes %q; echoing", q, q*4, len(m)-n, string(m[n:]))
					conn.SendMessage(m)
				}
			}()
		}
		go func() {
			u, err := conn.OpenUniStream()
			if err != nil {
				log.Printf("OpenUniStream: %v", err)
				return
			}
			var hdr bytes.Buffer
			quicvarint.Write(&hdr, 0x54)
			quicvarint.Write(&hdr, sid)
			hdr.WriteString("hello from server uni")
			u.Write(hdr.Bytes())
			u.Close()
		}()
	})
	go func() {
		s := make(chan os.Signal, 1)
		signalNotify(s)
		<-s
		log.Printf("stopping")
		os.Exit(0)
	}()
	log.Fatal(srv.Serve(udp))
}

func readVarint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	l := 1 << (b[0] >> 6)
	if len(b) < l {
		return 0, 0
	}
	v := uint64(b[0] & 0x3f)
	for i := 1; i < l; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, l
}

var _ = context.Background
