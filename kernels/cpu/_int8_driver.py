"""The tile driver of `kernels.cpu.int8_gemm`: the output cut into blocks, one per parallel
task, each filled tile by tile by a micro-kernel (`_int8_vnni` or `_int8_portable`) and
finished while in cache by the zero-point correction and the epilogue (int32, dequantize or
requantize).
"""

import numba
import numpy as np

from kernels.cpu._int8_portable import PORTABLE_COLS, PORTABLE_ROWS, _portable_tile
from kernels.cpu._int8_vnni import VNNI_COLS, VNNI_ROWS, _vnni_tile
from kernels.reference.int8_gemm import INT32_RANGE

TASK_ROWS, TASK_COLS = 96, 384   # one parallel task: a block of the output

# epilogue modes of the tile driver
INT32, DEQUANTIZE, REQUANTIZE = 0, 1, 2


@numba.njit(cache=True)
def _finish_block(block, row0, col0, out, row_term, col_term, scale, bias, out_scale,
                  out_zero_point, qmin, qmax, mode, overflow):
    """Write a block of the output from its zero-point-free product `block`.

    value = block + row_term[m] - col_term[n] is the exact sum_k (a - za)(b - zb) (the
    gemmlowp identity, see `kernels.cpu.int8_gemm`); then by `mode`: INT32 stores it (and sets
    overflow[m] if a value does not fit), DEQUANTIZE stores float32(value scale[n] +
    bias[n]), REQUANTIZE stores clamp(rint((value scale[n] + bias[n]) / out_scale) +
    out_zero_point, qmin, qmax). The float arithmetic is float64 in the reference's order,
    so the results are the reference's bit for bit. Only the part inside `out` is written.
    One loop per mode, none with a branch inside, so that LLVM vectorises each.

    Args: block (TASK_ROWS, TASK_COLS) int32, starting at (row0, col0) of out (M, N);
    row_term (M,), col_term (N,) int64; scale, bias (N,) float64; out_scale float;
    out_zero_point, qmin, qmax ints; overflow (M,) bool.
    """
    cols = min(block.shape[1], out.shape[1] - col0)
    terms, scales, offsets = (col_term[col0:col0 + cols], scale[col0:col0 + cols],
                              bias[col0:col0 + cols])
    for r in range(min(block.shape[0], out.shape[0] - row0)):
        m = row0 + r
        row, shift, out_row = block[r, :cols], row_term[m], out[m, col0:col0 + cols]
        if mode == INT32:
            low, high = INT32_RANGE[1], INT32_RANGE[0]
            for j in range(cols):
                value = row[j] + shift - terms[j]
                low, high = min(low, value), max(high, value)
                out_row[j] = value
            if low < INT32_RANGE[0] or high > INT32_RANGE[1]:
                overflow[m] = True  # never write False: tasks of other columns share row m
        elif mode == DEQUANTIZE:
            for j in range(cols):
                out_row[j] = np.float64(row[j] + shift - terms[j]) * scales[j] + offsets[j]
        else:
            for j in range(cols):
                real = np.float64(row[j] + shift - terms[j]) * scales[j] + offsets[j]
                q = np.int64(min(max(np.rint(real / out_scale) + out_zero_point, qmin), qmax))
                out_row[j] = q - 256 if q > 127 else q  # uint8 128..255 in an int8 view


@numba.njit(parallel=True, cache=True)
def _gemm_tasks(ap, bp, depth, vnni, out, row_term, col_term, scale, bias, out_scale,
                out_zero_point, qmin, qmax, mode, overflow):
    """out (M, N) from packed A and B, one TASK_ROWS x TASK_COLS block per parallel task.

    Loop order: prange over tasks > column panels (a B panel, tile_cols x depth bytes, read
    from L1/L2 by all the task's row panels) > row panels (an A panel, tile_rows x depth
    bytes; the task's TASK_ROWS rows of A stay in L2) > the micro-kernel, whose int32 tile
    goes into the task's block > the epilogue on the whole block (in L2), row by row. Tasks
    write disjoint blocks of out; several may set the same overflow[m], only ever to True.

    Args: ap, bp: packed int8 / uint8 panels (`_pack_rows`), tile_rows x depth and
    tile_cols x depth bytes each; depth: K rounded up to a multiple of 4; vnni: which
    micro-kernel (and layout); the rest as in `_finish_block`. FLOPs: 2 M N depth. Memory
    traffic: A read N / TASK_COLS times, B read M / TASK_ROWS times, out written once.
    """
    rows, cols = out.shape
    tile_rows, tile_cols = (VNNI_ROWS, VNNI_COLS) if vnni else (PORTABLE_ROWS, PORTABLE_COLS)
    col_tasks = -(-cols // TASK_COLS)
    for task in numba.prange(-(-rows // TASK_ROWS) * col_tasks):
        first_row, first_col = task // col_tasks * TASK_ROWS, task % col_tasks * TASK_COLS
        block = np.empty((TASK_ROWS, TASK_COLS), np.int32)
        for j in range(0, min(TASK_COLS, cols - first_col), tile_cols):
            for i in range(0, min(TASK_ROWS, rows - first_row), tile_rows):
                tile = block[i:i + tile_rows, j:j + tile_cols]
                row_panel, col_panel = (first_row + i) * depth, (first_col + j) * depth
                if vnni:
                    _vnni_tile(ap, bp, row_panel, col_panel, depth // 4, tile)
                else:
                    _portable_tile(ap, bp, row_panel, col_panel, depth, tile)
        _finish_block(block, first_row, first_col, out, row_term, col_term, scale, bias,
                      out_scale, out_zero_point, qmin, qmax, mode, overflow)
