package main

import (
	"fmt"
	"math"

	"github.com/valyala/fastjson"
)

// Optional columns that were absent or null in the record.
const (
	nullTxPower uint8 = 1 << iota
	nullBattery
	nullTemperature
	nullSeq
)

// observation is one decoded record. tag and gateway are ids in the parsing worker's interner until
// deduplicate turns them into ranks of the sorted distinct strings.
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

// decodeObservation applies the rules of assets_dag/ingest/records.py (_parse_record) to one JSON value.
// The error text is the rejection reason.
func decodeObservation(p *fastjson.Parser, value []byte, in *interner, o *observation) error {
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
	tag, err := requiredString(doc, "tag_id")
	if err != nil {
		return err
	}
	gateway, err := requiredString(doc, "gateway_id")
	if err != nil {
		return err
	}
	rssi := doc.Get("rssi")
	if isNull(rssi) {
		return fmt.Errorf("rssi: missing")
	}
	if o.rssi, err = int16Of("rssi", rssi); err != nil {
		return err
	}
	ts := doc.Get("ts")
	if isNull(ts) {
		return fmt.Errorf("ts: missing")
	}
	if o.ts, err = timestampOf(ts); err != nil {
		return err
	}
	o.nulls = 0
	if v := doc.Get("tx_power"); isNull(v) {
		o.nulls |= nullTxPower
		o.txPower = 0
	} else if o.txPower, err = int16Of("tx_power", v); err != nil {
		return err
	}
	if v := doc.Get("battery"); isNull(v) {
		o.nulls |= nullBattery
		o.battery = 0
	} else if o.battery, err = float32Of("battery", v); err != nil {
		return err
	}
	if v := doc.Get("temperature"); isNull(v) {
		o.nulls |= nullTemperature
		o.temperature = 0
	} else if o.temperature, err = float32Of("temperature", v); err != nil {
		return err
	}
	if v := doc.Get("seq"); isNull(v) {
		o.nulls |= nullSeq
		o.seq = 0
	} else if o.seq, err = int64Of("seq", v); err != nil {
		return err
	}
	o.tag = in.id(tag)
	o.gateway = in.id(gateway)
	return nil
}

func isNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

func requiredString(doc *fastjson.Value, name string) ([]byte, error) {
	v := doc.Get(name)
	if isNull(v) {
		return nil, fmt.Errorf("%s: missing", name)
	}
	if v.Type() != fastjson.TypeString {
		return nil, fmt.Errorf("%s: expected a string, got %s", name, v)
	}
	b, _ := v.StringBytes()
	return b, nil
}

// numberOf returns the value as an int64 when it is written as an integer, else as a float64 (isInt false).
func numberOf(name string, v *fastjson.Value) (i int64, f float64, isInt bool, err error) {
	if v.Type() != fastjson.TypeNumber {
		return 0, 0, false, fmt.Errorf("%s: expected a number, got %s", name, v)
	}
	if i, err := v.Int64(); err == nil {
		return i, 0, true, nil
	}
	f, err = v.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, 0, false, fmt.Errorf("%s: expected a number, got %s", name, v)
	}
	return 0, f, false, nil
}

// int64Of truncates a fractional number toward zero, as Python's int() does.
func int64Of(name string, v *fastjson.Value) (int64, error) {
	i, f, isInt, err := numberOf(name, v)
	if err != nil || isInt {
		return i, err
	}
	if f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%s: %s is out of range for int64", name, v)
	}
	return int64(f), nil
}

func int16Of(name string, v *fastjson.Value) (int16, error) {
	i, err := int64Of(name, v)
	if err != nil {
		return 0, err
	}
	if i < math.MinInt16 || i > math.MaxInt16 {
		return 0, fmt.Errorf("%s: %s is out of range for int16", name, v)
	}
	return int16(i), nil
}

func float32Of(name string, v *fastjson.Value) (float32, error) {
	i, f, isInt, err := numberOf(name, v)
	if err != nil {
		return 0, err
	}
	if isInt {
		return float32(i), nil
	}
	return float32(f), nil
}

func timestampOf(v *fastjson.Value) (int64, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		us, err := parseTimestamp(b)
		if err != nil {
			return 0, fmt.Errorf("ts: %v, got %s", err, v)
		}
		return us, nil
	case fastjson.TypeNumber: // epoch milliseconds
		i, f, isInt, err := numberOf("ts", v)
		if err != nil {
			return 0, err
		}
		if isInt {
			if i > math.MaxInt64/1000 || i < math.MinInt64/1000 {
				return 0, fmt.Errorf("ts: %s is out of range for epoch ms", v)
			}
			return i * 1000, nil
		}
		if math.Abs(f) > math.MaxInt64/1000 {
			return 0, fmt.Errorf("ts: %s is out of range for epoch ms", v)
		}
		return int64(math.RoundToEven(f * 1000)), nil
	}
	return 0, fmt.Errorf("ts: expected RFC 3339 or epoch ms, got %s", v)
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
