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

var utcMicros = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// observationsSchema is lakehouse.schemas.OBSERVATIONS, field for field (names, types, nullability).
var observationsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "tag_id", Type: arrow.BinaryTypes.String},
	{Name: "gateway_id", Type: arrow.BinaryTypes.String},
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

// encodeParquet writes the (sorted, de-duplicated) rows as one zstd Parquet file held in memory. The same
// rows give the same bytes: nothing time- or host-dependent goes into the file.
func encodeParquet(w *decodedWindow) ([]byte, error) {
	mem := memory.NewGoAllocator()
	builder := array.NewRecordBuilder(mem, observationsSchema)
	defer builder.Release()
	builder.Reserve(len(w.order))
	tags := builder.Field(0).(*array.StringBuilder)
	gateways := builder.Field(1).(*array.StringBuilder)
	ts := builder.Field(2).(*array.TimestampBuilder)
	rssi := builder.Field(3).(*array.Int16Builder)
	txPower := builder.Field(4).(*array.Int16Builder)
	battery := builder.Field(5).(*array.Float32Builder)
	temperature := builder.Field(6).(*array.Float32Builder)
	seq := builder.Field(7).(*array.Int64Builder)
	partition := builder.Field(8).(*array.Int32Builder)
	offset := builder.Field(9).(*array.Int64Builder)
	kafkaTs := builder.Field(10).(*array.TimestampBuilder)
	for _, i := range w.order {
		r := &w.rows[i]
		tags.Append(w.tags[r.tag])
		gateways.Append(w.gateways[r.gateway])
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
	record := builder.NewRecordBatch()
	defer record.Release()
	table := array.NewTableFromRecords(observationsSchema, []arrow.RecordBatch{record})
	defer table.Release()

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
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithCreatedBy("asset-tag-landing"),
	)
	// The stored Arrow schema makes readers see exactly the contract's types (UTC timestamps, int16).
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))
	var out bytes.Buffer
	out.Grow(len(w.order) * 16)
	if err := pqarrow.WriteTable(table, &out, rowGroupRows, props, arrowProps); err != nil {
		return nil, fmt.Errorf("parquet: %v", err)
	}
	return out.Bytes(), nil
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
