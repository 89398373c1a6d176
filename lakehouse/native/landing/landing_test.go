package main

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func TestParseTimestampReadsWhatPythonFromisoformatReads(t *testing.T) {
	const may1 = int64(1714557600) * 1_000_000 // 2024-05-01T10:00:00Z
	cases := map[string]int64{
		"2024-05-01T10:00:00Z":           may1,
		"2024-05-01t10:00:00z":           may1,
		"2024-05-01 10:00:00Z":           may1,
		"2024-05-01T10:00Z":              may1,
		"2024-05-01T12:00:00+02:00":      may1,
		"2024-05-01T08:30:00-0130":       may1,
		"2024-05-01T10:00:00.5Z":         may1 + 500_000,
		"2024-05-01T10:00:00,25Z":        may1 + 250_000,
		"2024-05-01T10:00:00.123456789Z": may1 + 123_456, // digits past the sixth are dropped
		"2024-02-29T00:00:00Z":           int64(1709164800) * 1_000_000,
		"1969-12-31T23:59:59.999999Z":    -1,
	}
	for text, want := range cases {
		got, err := parseTimestamp([]byte(text))
		if err != nil || got != want {
			t.Errorf("%s: got %d, %v; want %d", text, got, err, want)
		}
	}
	for _, text := range []string{"2024-05-01T10:00:00", "2024-05-01"} {
		if _, err := parseTimestamp([]byte(text)); err == nil {
			t.Errorf("%s: accepted a time without a zone", text)
		}
	}
	for _, text := range []string{"2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T10:00:60Z", "yesterday", "2024-05-01T10:00:00.Z"} {
		if _, err := parseTimestamp([]byte(text)); err != errNotTimestamp {
			t.Errorf("%s: got %v, want %v", text, err, errNotTimestamp)
		}
	}
}

// The scanner is a shortcut: for every value it accepts it must decode exactly what fastjson decodes.
func TestScannerAndFullParserDecodeAlike(t *testing.T) {
	values := []string{
		`{"tag_id":"AC01","gateway_id":"GW1","rssi":-61,"ts":"2024-05-01T10:00:00Z"}`,
		` { "tag_id" : "AC01", "gateway_id":"GW1", "rssi": -61.9, "ts": 1714557600123, "battery": 87.5,
		   "temperature": null, "seq": 12, "tx_power": -59, "extra": "x" } `,
		`{"tag_id":"AC01","gateway_id":"GW1","rssi":"loud","ts":"2024-05-01T10:00:00Z"}`,
		`{"tag_id":"AC01","gateway_id":"GW1","ts":"2024-05-01T10:00:00Z"}`,
		`{"tag_id":"AC01","gateway_id":"GW1","rssi":99999,"ts":"2024-05-01T10:00:00Z"}`,
		`{"tag_id":"AC01","gateway_id":"GW1","rssi":-60,"ts":true}`,
		`{"tag_id":7,"gateway_id":"GW1","rssi":-60,"ts":"2024-05-01T10:00:00Z"}`,
		`{"tag_id":"AC01","gateway_id":"GW1","rssi":-60,"ts":"2024-05-01T10:00:00Z","battery":1e2}`,
	}
	for _, value := range values {
		var scanned, parsed fields
		if !scanFields([]byte(value), &scanned) {
			t.Fatalf("scanner refused a plain record: %s", value)
		}
		if err := parseFields(&fastjson.Parser{}, []byte(value), &parsed); err != nil {
			t.Fatalf("%s: %v", value, err)
		}
		var a, b observation
		errA := scanned.decode(newInterner(), &a)
		errB := parsed.decode(newInterner(), &b)
		if a != b || (errA == nil) != (errB == nil) || (errA != nil && errA.Error() != errB.Error()) {
			t.Errorf("%s:\n scanner %+v %v\n parser  %+v %v", value, a, errA, b, errB)
		}
	}
}

func TestRecordsTheScannerRefusesStillDecode(t *testing.T) {
	value := []byte(`{"tag_id":"AC\u00301","gateway_id":"GW1","rssi":-60,"ts":"2024-05-01T10:00:00Z","extra":{"n":[1]}}`)
	if scanFields(value, &fields{}) {
		t.Fatal("the scanner took an escaped string and a nested value")
	}
	in := newInterner()
	var o observation
	if err := decodeObservation(&fastjson.Parser{}, value, in, &o); err != nil || in.strings[o.tag] != "AC01" {
		t.Fatalf("got %v, tag %q", err, in.strings[o.tag])
	}
}

func TestBadRecordsAreRejectedWithTheirReason(t *testing.T) {
	cases := map[string]string{
		``:         "empty value",
		`not json`: "invalid JSON",
		`[1, 2]`:   "expected a JSON object, got list",
		`{"tag_id":"A\u00e9","gateway_id":"G","rssi":-1,"ts":"2024-05-01T10:00:00"}`:      "ts: needs a time zone",
		`{"tag_id":"A","gateway_id":"G","rssi":-1,"ts":"2024-05-01T10:00:00Z","seq":"x"}`: `seq: expected a number, got "x"`,
	}
	for value, want := range cases {
		err := decodeObservation(&fastjson.Parser{}, []byte(value), newInterner(), &observation{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", value, err, want)
		}
	}
}

func TestDeduplicateKeepsTheLowestPartitionAndOffsetAndSorts(t *testing.T) {
	w := &decodedWindow{
		tags:     []string{"A", "B"},
		gateways: []string{"G1", "G2"},
		parts: [][]observation{{
			{tag: 1, gateway: 0, ts: 5, partition: 0, offset: 1},
			{tag: 0, gateway: 1, ts: 9, partition: 2, offset: 7},
			{tag: 0, gateway: 1, ts: 9, partition: 1, offset: 8}, // same key, lower partition: kept
			{tag: 0, gateway: 0, ts: 3, partition: 0, offset: 2},
			{tag: 0, gateway: 1, ts: 2, partition: 0, offset: 3},
		}},
	}
	if dropped := w.deduplicate(); dropped != 1 {
		t.Fatalf("dropped %d, want 1", dropped)
	}
	want := []uint32{3, 4, 2, 0}
	for i, row := range want {
		if w.order[i] != row {
			t.Fatalf("order %v, want %v", w.order, want)
		}
	}
}

func TestGroupingInOnePassOverPartsMatchesTwoPassesAndAReferenceSort(t *testing.T) {
	random := rand.New(rand.NewPCG(7, 11))
	w := &decodedWindow{tags: make([]string, 37), gateways: make([]string, 5)}
	var all []observation
	for p := range 3 { // the workers' parts, of different sizes
		part := make([]observation, 500+p*300)
		for i := range part {
			part[i] = observation{
				tag: uint32(random.IntN(37)), gateway: uint32(random.IntN(5)), ts: int64(random.IntN(40)),
				partition: int32(random.IntN(3)), offset: int64(random.IntN(1 << 20)),
			}
		}
		w.parts = append(w.parts, part)
		all = append(all, part...)
	}
	if one, two := w.groupedKeys(37*5), w.groupedKeysTwoPasses(); !slices.Equal(one, two) {
		t.Fatal("one counting pass over the parts grouped the rows differently from two passes")
	}
	dropped := w.deduplicate()
	rows := make([]uint32, len(all))
	for i := range rows {
		rows[i] = uint32(i)
	}
	slices.SortFunc(rows, func(a, b uint32) int {
		x, y := all[a], all[b]
		return cmp.Or(cmp.Compare(x.tag, y.tag), cmp.Compare(x.gateway, y.gateway), cmp.Compare(x.ts, y.ts),
			cmp.Compare(x.partition, y.partition), cmp.Compare(x.offset, y.offset), cmp.Compare(a, b))
	})
	want := make([]uint32, 0, len(rows))
	for i, r := range rows {
		if i > 0 {
			p, q := all[rows[i-1]], all[r]
			if p.tag == q.tag && p.gateway == q.gateway && p.ts == q.ts {
				continue
			}
		}
		want = append(want, r)
	}
	if dropped != len(all)-len(want) || !slices.Equal(w.order, want) {
		t.Fatalf("dropped %d (want %d); order differs from a reference sort", dropped, len(all)-len(want))
	}
}
