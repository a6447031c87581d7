// onnx-proto is static protobufjs code; from ESM it only has a default export.

import type { onnx as OnnxTypes } from 'onnx-proto'
import pkg from 'onnx-proto'

export const { onnx } = pkg
export type INodeProto = OnnxTypes.INodeProto
export type IValueInfoProto = OnnxTypes.IValueInfoProto
export type IAttributeProto = OnnxTypes.IAttributeProto
export const TensorType = onnx.TensorProto.DataType
export const AttrType = onnx.AttributeProto.AttributeType

export type ElemType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool'

export const ELEM: Record<ElemType, number> = {
  float32: TensorType.FLOAT,
  float16: TensorType.FLOAT16,
  float64: TensorType.DOUBLE,
  int64: TensorType.INT64,
  int32: TensorType.INT32,
  int8: TensorType.INT8,
  uint8: TensorType.UINT8,
  bool: TensorType.BOOL,
}

export const ELEM_SIZE: Record<ElemType, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
}
