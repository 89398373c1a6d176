package main

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// rowGroupRows matches lakehouse/store.py: big enough for fast scans, small enough that DuckDB
// parallelises over one hour's file.
const rowGroupRows = 128 * 1024

var (
	utcMicros = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	// Tags and gateways are handed to the writer as dictionaries of the names a row group uses, so the
	// Parquet dictionary pages are written straight from them instead of hashing every row's string.
	names = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
)

// observationsSchema is lakehouse.schemas.OBSERVATIONS, field for field (names, nullability; the names'
// dictionaries are Parquet dictionary-encoded string columns, which readers see as plain strings).
var observationsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "tag_id", Type: names},
	{Name: "gateway_id", Type: names},
	{Name: "ts", Type: utcMicros},
	{Name: "rssi", Type: arrow.PrimitiveTypes.Int16},
	{Name: "tx_power", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "battery", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "temperature", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "seq", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "kafka_partition", Type: arrow.PrimitiveTypes.Int32},
	{Name: "kafka_offset", Type: arrow.PrimitiveTypes.Int64},
	{Name: "kafka_ts", Type: utcMicros},
}, nil)

// encodeParquet writes the rows in w.order as one zstd Parquet file held in memory. The same rows give the
// same bytes: nothing time- or host-dependent goes into the file.
func encodeParquet(w *decodedWindow) ([]byte, error) {
	mem := memory.NewGoAllocator()
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1), // pyarrow's default zstd level
		parquet.WithDictionaryDefault(true),
		// Times and offsets are nearly unique per row: a dictionary would only be built to be abandoned.
		parquet.WithDictionaryFor("ts", false),
		parquet.WithDictionaryFor("kafka_offset", false),
		parquet.WithDictionaryFor("kafka_ts", false),
		parquet.WithDictionaryFor("seq", false),
		// Sorted by tag, gateway and time, they change by small steps from row to row: delta-packed, they are
		// a fraction of their plain size before zstd even starts (which is where the writer spends its time).
		parquet.WithEncodingFor("ts", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("kafka_offset", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithEncodingFor("kafka_ts", parquet.Encodings.DeltaBinaryPacked),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithCreatedBy("asset-tag-landing"),
	)
	// No stored Arrow schema: readers derive exactly the contract's types from the Parquet logical types
	// (UTF-8 strings, INT(16), timestamps in microseconds adjusted to UTC, required/optional).
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	var out bytes.Buffer
	out.Grow(len(w.order) * 8)
	writer, err := pqarrow.NewFileWriter(observationsSchema, &out, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("parquet: %v", err)
	}
	// Build the next row group's arrays while the writer encodes and compresses the current one.
	records := make(chan arrow.RecordBatch, 1)
	go func() {
		defer close(records)
		for start := 0; start == 0 || start < len(w.order); start += rowGroupRows {
			records <- rowGroup(mem, w, w.order[start:min(start+rowGroupRows, len(w.order))])
		}
	}()
	for record := range records {
		if err == nil {
			err = writer.Write(record) // one row group per call
		}
		record.Release()
	}
	if err != nil {
		return nil, fmt.Errorf("parquet: %v", err)
	}
	if err := writer.Close(); err != nil {
		return nil, fmt.Errorf("parquet: %v", err)
	}
	return out.Bytes(), nil
}

// rowGroup builds the Arrow record of the rows `order` picks. Rows are sorted by tag, so a row group's
// tags are one range of ranks: its dictionary is that slice of the sorted names.
func rowGroup(mem memory.Allocator, w *decodedWindow, order []uint32) arrow.RecordBatch {
	builder := array.NewRecordBuilder(mem, observationsSchema)
	defer builder.Release()
	builder.Reserve(len(order))
	firstTag, lastTag := uint32(0), uint32(0)
	if len(order) > 0 {
		firstTag, lastTag = w.row(order[0]).tag, w.row(order[len(order)-1]).tag
	}
	tagIndex := array.NewInt32Builder(mem)
	gatewayIndex := array.NewInt32Builder(mem)
	defer tagIndex.Release()
	defer gatewayIndex.Release()
	tagIndex.Reserve(len(order))
	gatewayIndex.Reserve(len(order))
	ts := builder.Field(2).(*array.TimestampBuilder)
	rssi := builder.Field(3).(*array.Int16Builder)
	txPower := builder.Field(4).(*array.Int16Builder)
	battery := builder.Field(5).(*array.Float32Builder)
	temperature := builder.Field(6).(*array.Float32Builder)
	seq := builder.Field(7).(*array.Int64Builder)
	partition := builder.Field(8).(*array.Int32Builder)
	offset := builder.Field(9).(*array.Int64Builder)
	kafkaTs := builder.Field(10).(*array.TimestampBuilder)
	usedGateways := make([]bool, len(w.gateways))
	for _, i := range order {
		r := w.row(i)
		tagIndex.UnsafeAppend(int32(r.tag - firstTag))
		gatewayIndex.UnsafeAppend(int32(r.gateway))
		usedGateways[r.gateway] = true
		ts.UnsafeAppend(arrow.Timestamp(r.ts))
		rssi.UnsafeAppend(r.rssi)
		appendInt16(txPower, r.txPower, r.nulls&nullTxPower == 0)
		appendFloat32(battery, r.battery, r.nulls&nullBattery == 0)
		appendFloat32(temperature, r.temperature, r.nulls&nullTemperature == 0)
		if r.nulls&nullSeq == 0 {
			seq.UnsafeAppend(r.seq)
		} else {
			seq.UnsafeAppendBoolToBitmap(false)
		}
		partition.UnsafeAppend(r.partition)
		offset.UnsafeAppend(r.offset)
		kafkaTs.UnsafeAppend(arrow.Timestamp(r.kafkaTs))
	}
	// Gateways of a row group are not one range: keep only the used ones so the dictionary page holds
	// nothing the row group does not reference (and the file does not depend on other hours' gateways).
	gatewayNames, remap := usedNames(w.gateways, usedGateways)
	indices := gatewayIndex.NewInt32Array()
	defer indices.Release()
	remapped := array.NewInt32Builder(mem)
	defer remapped.Release()
	remapped.Reserve(indices.Len())
	for _, g := range indices.Int32Values() {
		remapped.UnsafeAppend(remap[g])
	}
	var tagNames []string
	if len(order) > 0 {
		tagNames = w.tags[firstTag : lastTag+1]
	}
	columns := make([]arrow.Array, len(observationsSchema.Fields()))
	columns[0] = dictionaryOf(mem, tagIndex, tagNames)
	columns[1] = dictionaryOf(mem, remapped, gatewayNames)
	fields := builder.Fields()
	for c := 2; c < len(columns); c++ {
		columns[c] = fields[c].NewArray()
	}
	record := array.NewRecordBatch(observationsSchema, columns, int64(len(order)))
	for _, column := range columns {
		column.Release()
	}
	return record
}

func usedNames(all []string, used []bool) ([]string, []int32) {
	kept := make([]string, 0, len(all))
	remap := make([]int32, len(all))
	for i, name := range all {
		if used[i] {
			remap[i] = int32(len(kept))
			kept = append(kept, name)
		}
	}
	return kept, remap
}

func dictionaryOf(mem memory.Allocator, indices *array.Int32Builder, values []string) arrow.Array {
	dictionary := array.NewStringBuilder(mem)
	defer dictionary.Release()
	dictionary.AppendValues(values, nil)
	valuesArray := dictionary.NewStringArray()
	defer valuesArray.Release()
	indexArray := indices.NewInt32Array()
	defer indexArray.Release()
	return array.NewDictionaryArray(names, indexArray, valuesArray)
}

func appendInt16(b *array.Int16Builder, v int16, valid bool) {
	if valid {
		b.UnsafeAppend(v)
	} else {
		b.UnsafeAppendBoolToBitmap(false)
	}
}

func appendFloat32(b *array.Float32Builder, v float32, valid bool) {
	if valid {
		b.UnsafeAppend(v)
	} else {
		b.UnsafeAppendBoolToBitmap(false)
	}
}
