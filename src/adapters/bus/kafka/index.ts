export { KafkaBus, createKafkaBus, DEAD_LETTER_TOPIC, DLQ_HEADERS, stderrLogger, type KafkaBusConfig, type BusLogger, type ClientLogLevel } from './kafka-bus';
export { encodeEvent, decodeEvent, decodeMessage, encodeWatermark, KafkaDecodeError, CONTENT_TYPE, H as KAFKA_HEADERS, type WireMessage, type ConsumedMessage } from './codec';
