// Command goverify checks a live Parley server with Go's own transparency-log code only:
// golang.org/x/mod/sumdb/note opens the signed checkpoint (and cosignature/v1 lines of the
// witnesses), golang.org/x/mod/sumdb/tlog reads the C2SP tiles, rebuilds the root from them,
// and checks the server's inclusion and consistency proofs against it.
//
// Build offline from Debian's golang-go and golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o goverify main.go
//
// Usage:
//
//	goverify -url http://127.0.0.1:8000 -key 'origin+keyid+base64' \
//	    [-witness vkey]... [-min-cosignatures N] [-old note-file] [-event id]...
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

var (
	base      = flag.String("url", "", "the server's base URL")
	logKey    = flag.String("key", "", "the log's verifier key")
	oldNote   = flag.String("old", "", "an older checkpoint note the current tree must extend")
	minCosign = flag.Int("min-cosignatures", 0, "how many witness cosignatures the note must carry")
	sweep     = flag.Bool("sweep", true, "also check the consistency proof from every smaller tree")
	witnesses list
	events    list
)

// cosigner verifies c2sp.org/tlog-cosignature cosignature/v1 lines (key type 0x04).
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.hash }
func (c *cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig[:8])
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

func newCosigner(vkey string) (*cosigner, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed witness key %q", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return nil, fmt.Errorf("witness key %q is not a cosignature/v1 Ed25519 key", vkey)
	}
	id := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if hex.EncodeToString(id[:4]) != parts[1] {
		return nil, fmt.Errorf("witness key %q has the wrong key id", vkey)
	}
	return &cosigner{parts[0], binary.BigEndian.Uint32(id[:4]), ed25519.PublicKey(raw[1:])}, nil
}

func get(path string) ([]byte, error) {
	resp, err := http.Get(strings.TrimRight(*base, "/") + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return body, nil
}

func getJSON(path string, into interface{}) error {
	body, err := get(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, into)
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint opens a C2SP checkpoint note with the log's key (and the witnesses').
func openCheckpoint(msg []byte, verifiers note.Verifiers, origin string) (*note.Note, checkpoint, error) {
	var cp checkpoint
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return nil, cp, err
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, cp, errors.New("a checkpoint has at least three lines")
	}
	cp.origin = lines[0]
	if cp.origin != origin {
		return nil, cp, fmt.Errorf("origin %q is not the log's %q", cp.origin, origin)
	}
	cp.size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || cp.size < 0 || strconv.FormatInt(cp.size, 10) != lines[1] {
		return nil, cp, fmt.Errorf("bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, cp, fmt.Errorf("bad root hash %q", lines[2])
	}
	copy(cp.root[:], root)
	return n, cp, nil
}

// tiles fetches C2SP tiles (once each): Go's paths carry the height (tile/8/L/N), C2SP's do not.
type tiles struct {
	fetched int
	cache   map[string][]byte
}

func (t *tiles) Height() int                     { return 8 }
func (t *tiles) SaveTiles([]tlog.Tile, [][]byte) {}
func (t *tiles) ReadTiles(want []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(want))
	for i, tile := range want {
		path := c2spPath(tile)
		if data, ok := t.cache[path]; ok {
			out[i] = data
			continue
		}
		data, err := get(path)
		if err != nil {
			return nil, err
		}
		t.fetched++
		t.cache[path] = data
		out[i] = data
	}
	return out, nil
}

func c2spPath(tile tlog.Tile) string {
	path := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
	return strings.Replace(path, "tile/data/", "tile/entries/", 1)
}

func decodeHashes(hexes []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(hexes))
	for i, h := range hexes {
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("bad hash %q", h)
		}
		copy(out[i][:], raw)
	}
	return out, nil
}

func same(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func run() error {
	flag.Var(&witnesses, "witness", "a witness's cosignature/v1 verifier key (repeatable)")
	flag.Var(&events, "event", "an event id whose inclusion proof to check (repeatable)")
	flag.Parse()

	logVerifier, err := note.NewVerifier(*logKey)
	if err != nil {
		return fmt.Errorf("log key: %v", err)
	}
	all := []note.Verifier{logVerifier}
	for _, w := range witnesses {
		c, err := newCosigner(w)
		if err != nil {
			return err
		}
		all = append(all, c)
	}
	verifiers := note.VerifierList(all...)

	msg, err := get("checkpoint")
	if err != nil {
		return err
	}
	n, cp, err := openCheckpoint(msg, verifiers, logVerifier.Name())
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	logSigned, cosigned := false, 0
	for _, s := range n.Sigs {
		if s.Name == logVerifier.Name() && s.Hash == logVerifier.KeyHash() {
			logSigned = true
		} else {
			cosigned++
		}
	}
	if !logSigned {
		return errors.New("checkpoint: not signed by the log's key")
	}
	if cosigned < *minCosign {
		return fmt.Errorf("checkpoint: %d witness cosignatures, %d required", cosigned, *minCosign)
	}

	// An older signed checkpoint: the tree now must extend it.
	if *oldNote != "" {
		msg, err := os.ReadFile(*oldNote)
		if err != nil {
			return err
		}
		_, old, err := openCheckpoint(msg, note.VerifierList(logVerifier), logVerifier.Name())
		if err != nil {
			return fmt.Errorf("old checkpoint: %v", err)
		}
		if old.size > cp.size {
			return fmt.Errorf("old checkpoint: %d leaves, more than today's %d", old.size, cp.size)
		}
		var p struct {
			Proof []string `json:"proof"`
		}
		q := url.Values{"from": {strconv.FormatInt(old.size, 10)}, "to": {strconv.FormatInt(cp.size, 10)}}
		if err := getJSON("ledger/proof/consistency?"+q.Encode(), &p); err != nil {
			return err
		}
		proof, err := decodeHashes(p.Proof)
		if err != nil {
			return err
		}
		if old.size == cp.size {
			if old.root != cp.root {
				return errors.New("old checkpoint: same size, another root")
			}
		} else if err := tlog.CheckTree(proof, cp.size, cp.root, old.size, old.root); err != nil {
			return fmt.Errorf("old checkpoint: %v", err)
		}
	}

	// The tree, read from tiles that the tile reader checks against the signed root.
	reader := &tiles{cache: map[string][]byte{}}
	hashes := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, reader)
	if cp.size > 0 {
		th, err := tlog.TreeHash(cp.size, hashes)
		if err != nil {
			return fmt.Errorf("tiles: %v", err)
		}
		if th != cp.root {
			return errors.New("tiles: the tree hash is not the checkpoint's root")
		}
	}

	// Every entry bundle: each entry hashes to its leaf in the level-0 tiles.
	entries := make([][]byte, 0, cp.size)
	for start := int64(0); start < cp.size; start += 256 {
		width := cp.size - start
		if width > 256 {
			width = 256
		}
		bundle := tlog.Tile{H: 8, L: -1, N: start / 256, W: int(width)}
		data, err := get(c2spPath(bundle))
		if err != nil {
			return err
		}
		for len(data) > 0 {
			if len(data) < 2 {
				return errors.New("entries: a truncated length")
			}
			size := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+size {
				return errors.New("entries: a truncated entry")
			}
			entries = append(entries, data[2:2+size])
			data = data[2+size:]
		}
	}
	if int64(len(entries)) != cp.size {
		return fmt.Errorf("entries: %d of %d", len(entries), cp.size)
	}
	for i, entry := range entries {
		leaf, err := hashes.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(i))})
		if err != nil {
			return err
		}
		if tlog.RecordHash(entry) != leaf[0] {
			return fmt.Errorf("entries: entry %d does not hash to its leaf", i)
		}
		proof, err := tlog.ProveRecord(cp.size, int64(i), hashes)
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(proof, cp.size, cp.root, int64(i), leaf[0]); err != nil {
			return fmt.Errorf("leaf %d: %v", i, err)
		}
	}

	// The server's own inclusion proofs, byte-identical to the ones the tiles give.
	for _, id := range events {
		var p struct {
			LeafIndex int64    `json:"leaf_index"`
			TreeSize  int64    `json:"tree_size"`
			AuditPath []string `json:"audit_path"`
			EventHash string   `json:"event_hash"`
		}
		q := url.Values{"event_id": {id}, "tree_size": {strconv.FormatInt(cp.size, 10)}}
		if err := getJSON("ledger/proof/inclusion?"+q.Encode(), &p); err != nil {
			return err
		}
		path, err := decodeHashes(p.AuditPath)
		if err != nil {
			return err
		}
		raw, err := hex.DecodeString(p.EventHash)
		if err != nil || p.TreeSize != cp.size || p.LeafIndex >= cp.size {
			return fmt.Errorf("event %s: a malformed proof", id)
		}
		if !bytes.Equal(raw, entries[p.LeafIndex]) {
			return fmt.Errorf("event %s: its hash is not entry %d", id, p.LeafIndex)
		}
		if err := tlog.CheckRecord(path, cp.size, cp.root, p.LeafIndex, tlog.RecordHash(raw)); err != nil {
			return fmt.Errorf("event %s: %v", id, err)
		}
		local, err := tlog.ProveRecord(cp.size, p.LeafIndex, hashes)
		if err != nil || !same(local, path) {
			return fmt.Errorf("event %s: the served proof differs from tlog's", id)
		}
	}

	// The server's consistency proofs from every smaller tree, checked against roots from tiles.
	swept := int64(0)
	for m := int64(1); *sweep && m < cp.size; m++ {
		swept++
		var p struct {
			Proof []string `json:"proof"`
		}
		q := url.Values{"from": {strconv.FormatInt(m, 10)}, "to": {strconv.FormatInt(cp.size, 10)}}
		if err := getJSON("ledger/proof/consistency?"+q.Encode(), &p); err != nil {
			return err
		}
		proof, err := decodeHashes(p.Proof)
		if err != nil {
			return err
		}
		old, err := tlog.TreeHash(m, hashes)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, cp.size, cp.root, m, old); err != nil {
			return fmt.Errorf("consistency %d -> %d: %v", m, cp.size, err)
		}
		local, err := tlog.ProveTree(cp.size, m, hashes)
		if err != nil || !same(local, proof) {
			return fmt.Errorf("consistency %d -> %d: the served proof differs from tlog's", m, cp.size)
		}
	}

	fmt.Printf("ok origin=%s size=%d root=%s cosignatures=%d tiles=%d entries=%d inclusion=%d consistency=%d\n",
		cp.origin, cp.size, base64.StdEncoding.EncodeToString(cp.root[:]), cosigned, reader.fetched,
		len(entries), len(events), swept)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goverify:", err)
		os.Exit(1)
	}
}
