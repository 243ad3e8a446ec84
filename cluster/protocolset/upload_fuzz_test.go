package protocolset

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/protocols"
)

// mapReader is a cluster.Reader over a map: the few keys an upload reads.
type mapReader map[string][]byte

func (m mapReader) GetRaw(key string) ([]byte, bool, error) {
	v, ok := m[key]
	return v, ok, nil
}

func (m mapReader) Get(key string, v any) (bool, error) {
	b, ok := m[key]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(b, v)
}

func (m mapReader) Scan(prefix, from string, fn func(key string, val []byte) error) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.HasPrefix(k, prefix) && k >= prefix+from {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, m[k]); err != nil {
			if errors.Is(err, cluster.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (m mapReader) Keys(prefix, from string, fn func(key string) error) error {
	return m.Scan(prefix, from, func(k string, _ []byte) error { return fn(k) })
}

// uploadState is the state an upload is checked against: an active set of
// the screen and one presentation (the whole embedded set takes ~70 ms to
// lint, too slow to fuzz; a presentation refers to no file but the
// screen), with that presentation's embedded version stored.
func uploadState(tb testing.TB, files map[string][]byte) mapReader {
	tb.Helper()
	m := mapReader{}
	comp := map[string]string{}
	for _, n := range []string{"screen.yaml", "chest-pain.yaml"} {
		b, ok := files[n]
		if !ok {
			tb.Fatalf("embedded protocols have no %s", n)
		}
		h := contentHash(b)
		comp[n] = h
		m[prefixProtocolBytes+h] = b
	}
	key := setKeyOf(comp)
	rec, _ := json.Marshal(&ProtocolSetRecord{Key: key, Files: comp})
	m[prefixProtocolSet+key] = rec
	m[keyProtocolActive] = []byte(key)
	id, version, err := ParseProtocolHeader(files["chest-pain.yaml"])
	if err != nil {
		tb.Fatal(err)
	}
	v, _ := json.Marshal(&ProtocolVersion{ID: id, Version: version, Active: true})
	m[keyProtocolVersion(id, version)] = v
	return m
}

// FuzzProtocolUpload is the protocol YAML an admin uploads (POST
// /v1/protocols), through the check the handler and Apply both run
// (checkUpload): the header parser (ParseProtocolHeader) reads id and
// version, then the full parser and lint build the set with the file in
// place. Seeded with every embedded protocol. Properties: no panic; a
// refusal is a *cluster.CommandError (a 422 or 409 to the caller, the same
// on every node), never another error; the header parser's refusals are
// errors; what the header parser accepts has a usable id and a positive
// version; an accepted upload defines exactly the protocol and version the
// header named (the two YAML readers agree), passes lint with the active
// set, and its version does not exist yet.
func FuzzProtocolUpload(f *testing.F) {
	files := protocols.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f.Add(files[n])
	}
	chest := string(files["chest-pain.yaml"])
	_, cur, err := ParseProtocolHeader(files["chest-pain.yaml"])
	if err != nil {
		f.Fatal(err)
	}
	ver := "version: " + strconv.Itoa(cur)
	f.Add([]byte(strings.Replace(chest, ver, "version: "+strconv.Itoa(cur+1), 1)))
	f.Add([]byte(strings.Replace(chest, ver, "version: 0", 1)))
	f.Add([]byte(strings.Replace(chest, ver, "version: -1", 1)))
	f.Add([]byte(strings.Replace(strings.Replace(chest, ver, "version: "+strconv.Itoa(cur+1), 1), "id: chest-pain", "id: chest-pain-2", 1)))
	f.Add([]byte(strings.Replace(chest, "id: chest-pain", "id: chest pain", 1)))
	f.Add([]byte("id: x\nversion: 1\n---\nid: y\nversion: 2\n"))
	f.Add([]byte("id: &a x\nversion: 1\nkind: *a\n"))
	f.Add([]byte("<<: {id: chest-pain, version: 3}\n"))
	f.Add([]byte("id: chest-pain\nid: other\nversion: 1\n"))
	f.Add([]byte("version: 1.5\nid: a\n"))
	f.Add([]byte("{id: a, version: 0x10}"))
	f.Add([]byte{})
	state := uploadState(f, files)
	f.Fuzz(func(t *testing.T, content []byte) {
		hid, hver, herr := ParseProtocolHeader(content)
		if herr == nil && (hid == "" || strings.ContainsAny(hid, "/\\ ") || hver < 1) {
			t.Fatalf("header parser accepted id %q version %d", hid, hver)
		}
		id, version, set, err := checkUpload(state, content)
		if err != nil {
			var ce *cluster.CommandError
			if !errors.As(err, &ce) || ce.Code == "" || ce.Message == "" {
				t.Fatalf("refusal %v (%T) is not a command error", err, err)
			}
			return
		}
		if herr != nil {
			t.Fatalf("upload accepted, header parser refused: %v", herr)
		}
		if id != hid || version != hver {
			t.Fatalf("upload accepted as %s v%d, header says %s v%d", id, version, hid, hver)
		}
		if id == "chest-pain" && version == cur {
			t.Fatal("upload accepted over a version that exists")
		}
		p, ok := set.Protocol(id)
		if !ok || p.ID != id || p.Version != version {
			t.Fatalf("header says %s v%d; the set holds %+v", id, version, p)
		}
		if p.Hash != contentHash(content) {
			t.Fatalf("protocol hash %s is not the upload's %s", p.Hash, contentHash(content))
		}
	})
}
