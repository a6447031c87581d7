// Stands in for sharp in the GPU benchmark's bundle (bench/gpu/pack.sh): the benchmark encodes no image, and a GPU
// host without the project's node_modules has no libvips.
export default function sharp(): never {
  throw new Error('sharp is not bundled with the GPU benchmark')
}
