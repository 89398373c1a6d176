package main

import (
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Optional columns that were absent or null in the record.
const (
	nullTxPower uint8 = 1 << iota
	nullBattery
	nullTemperature
	nullSeq
)

// observation is one decoded record. tag and gateway are ids in the decoding worker's interner until merge
// turns them into ranks of the sorted distinct names.
type observation struct {
	ts          int64 // event time, UTC microseconds
	seq         int64
	offset      int64
	kafkaTs     int64 // record timestamp, UTC microseconds
	tag         uint32
	gateway     uint32
	partition   int32
	battery     float32
	temperature float32
	rssi        int16
	txPower     int16
	nulls       uint8
}

// interner maps the few distinct tag and gateway ids of an hour to small integers, so rows carry no strings.
type interner struct {
	ids     map[string]uint32
	strings []string
}

func newInterner() *interner { return &interner{ids: make(map[string]uint32, 1024)} }

func (in *interner) id(b []byte) uint32 {
	if id, ok := in.ids[string(b)]; ok { // no allocation for the lookup
		return id
	}
	s := string(b)
	id := uint32(len(in.strings))
	in.ids[s] = id
	in.strings = append(in.strings, s)
	return id
}

// decodeObservation applies the rules of assets_dag/ingest/records.py (_parse_record) to one JSON value;
// the error text is the rejection reason.
func decodeObservation(p *fastjson.Parser, value []byte, in *interner, o *observation) error {
	var f fields
	if !scanFields(value, &f) {
		if err := parseFields(p, value, &f); err != nil {
			return err
		}
	}
	return f.decode(in, o)
}

// parseFields is the general path: any valid JSON, escapes included.
func parseFields(p *fastjson.Parser, value []byte, out *fields) error {
	if len(value) == 0 {
		return fmt.Errorf("empty value (expected a JSON object)")
	}
	doc, err := p.ParseBytes(value)
	if err != nil {
		return fmt.Errorf("invalid JSON (%v)", err)
	}
	if doc.Type() != fastjson.TypeObject {
		return fmt.Errorf("expected a JSON object, got %s", pythonType(doc))
	}
	for i, name := range observationFields {
		v := doc.Get(name)
		switch {
		case v == nil || v.Type() == fastjson.TypeNull:
			out[i] = token{'z', []byte("null")}
		case v.Type() == fastjson.TypeString:
			text, _ := v.StringBytes()
			out[i] = token{'s', text}
		case v.Type() == fastjson.TypeNumber:
			out[i] = token{'n', v.MarshalTo(nil)}
		case v.Type() == fastjson.TypeTrue:
			out[i] = token{'t', []byte("true")}
		case v.Type() == fastjson.TypeFalse:
			out[i] = token{'f', []byte("false")}
		default:
			out[i] = token{'o', v.MarshalTo(nil)}
		}
	}
	return nil
}

func (f *fields) decode(in *interner, o *observation) (err error) {
	for _, required := range [...]int{fTag, fGateway, fRssi, fTs} {
		if f[required].kind == 'z' {
			return fmt.Errorf("%s: missing", observationFields[required])
		}
	}
	for _, name := range [...]int{fTag, fGateway} {
		if f[name].kind != 's' {
			return fmt.Errorf("%s: expected a string, got %s", observationFields[name], f[name])
		}
	}
	if o.rssi, err = int16Of(fRssi, f[fRssi]); err != nil {
		return err
	}
	if o.ts, err = timestampOf(f[fTs]); err != nil {
		return err
	}
	o.nulls, o.txPower, o.battery, o.temperature, o.seq = 0, 0, 0, 0, 0
	if f[fTxPower].kind == 'z' {
		o.nulls |= nullTxPower
	} else if o.txPower, err = int16Of(fTxPower, f[fTxPower]); err != nil {
		return err
	}
	if f[fBattery].kind == 'z' {
		o.nulls |= nullBattery
	} else if o.battery, err = float32Of(fBattery, f[fBattery]); err != nil {
		return err
	}
	if f[fTemperature].kind == 'z' {
		o.nulls |= nullTemperature
	} else if o.temperature, err = float32Of(fTemperature, f[fTemperature]); err != nil {
		return err
	}
	if f[fSeq].kind == 'z' {
		o.nulls |= nullSeq
	} else if o.seq, err = int64Of(fSeq, f[fSeq]); err != nil {
		return err
	}
	o.tag = in.id(f[fTag].text)
	o.gateway = in.id(f[fGateway].text)
	return nil
}

// numberOf returns the value as an int64 when it is written as an integer that fits, else as a float64.
func numberOf(field int, t token) (i int64, f float64, isInt bool, err error) {
	if t.kind != 'n' || len(t.text) == 0 {
		return 0, 0, false, fmt.Errorf("%s: expected a number, got %s", observationFields[field], t)
	}
	if i, ok := parseInt(t.text); ok {
		return i, 0, true, nil
	}
	f, err = strconv.ParseFloat(unsafe.String(&t.text[0], len(t.text)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, 0, false, fmt.Errorf("%s: expected a number, got %s", observationFields[field], t)
	}
	return 0, f, false, nil
}

// parseInt reads -?[0-9]+ that fits an int64.
func parseInt(b []byte) (int64, bool) {
	negative := b[0] == '-'
	if negative {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 { // 18 digits always fit; longer ones go through ParseFloat
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if negative {
		n = -n
	}
	return n, true
}

// int64Of truncates a fractional number toward zero, as Python's int() does.
func int64Of(field int, t token) (int64, error) {
	i, f, isInt, err := numberOf(field, t)
	if err != nil || isInt {
		return i, err
	}
	if f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%s: %s is out of range for int64", observationFields[field], t)
	}
	return int64(f), nil
}

func int16Of(field int, t token) (int16, error) {
	i, err := int64Of(field, t)
	if err != nil {
		return 0, err
	}
	if i < math.MinInt16 || i > math.MaxInt16 {
		return 0, fmt.Errorf("%s: %s is out of range for int16", observationFields[field], t)
	}
	return int16(i), nil
}

func float32Of(field int, t token) (float32, error) {
	i, f, isInt, err := numberOf(field, t)
	if err != nil {
		return 0, err
	}
	if isInt {
		return float32(i), nil
	}
	return float32(f), nil
}

func timestampOf(t token) (int64, error) {
	switch t.kind {
	case 's':
		us, err := parseTimestamp(t.text)
		if err != nil {
			return 0, fmt.Errorf("ts: %v, got %s", err, t)
		}
		return us, nil
	case 'n': // epoch milliseconds
		i, f, isInt, err := numberOf(fTs, t)
		if err != nil {
			return 0, err
		}
		if isInt {
			if i > math.MaxInt64/1000 || i < math.MinInt64/1000 {
				return 0, fmt.Errorf("ts: %s is out of range for epoch ms", t)
			}
			return i * 1000, nil
		}
		if math.Abs(f) > math.MaxInt64/1000 {
			return 0, fmt.Errorf("ts: %s is out of range for epoch ms", t)
		}
		return int64(math.RoundToEven(f * 1000)), nil
	}
	return 0, fmt.Errorf("ts: expected RFC 3339 or epoch ms, got %s", t)
}

// pythonType names a JSON value's type as records.py's message does (the type json decodes it to).
func pythonType(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeArray:
		return "list"
	case fastjson.TypeString:
		return "str"
	case fastjson.TypeNumber:
		if _, err := v.Int64(); err == nil {
			return "int"
		}
		return "float"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "bool"
	case fastjson.TypeNull:
		return "NoneType"
	}
	return v.Type().String()
}
