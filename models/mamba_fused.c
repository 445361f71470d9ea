/* Mamba's selective scan as one loop on the CPU, forward and backward
 * (models/mamba_fused.py builds and calls it; mamba/fused is the variant).
 *
 *   h_t = exp(delta_t A) * h_{t-1} + delta_t u_t B_t,   y_t = C_t . h_t
 *
 * Layouts, all float32 and contiguous: u, delta, y (b, L, E); B, C (b, L, N);
 * A transposed to (N, E); states (N, E). The innermost loop runs over the E
 * channels, so one state row of E floats is one run of vector lanes and
 * exp() is glibc's vector expf where the build found it.
 *
 * Why C: in torch each position of the scan is four or five ops over a whole
 * (b, N, E) slab, and the backward thirteen; each op reads and writes the
 * slab again. Here a position is one pass over one batch row's state, which
 * stays in the cache, and the backward recomputes the states segment by
 * segment from checkpoints instead of keeping all L of them.
 *
 * The functions take a range of batch rows [b0, b1) so that the caller can
 * run disjoint ranges on several threads; every output row is written by the
 * call that owns it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef int64_t i64;

/* h_next = exp(delta A) * h + (delta u) B for one position of one batch row */
static void advance(i64 E, i64 N, const float *dt, const float *ut, const float *A,
                    const float *Bt, const float *h, float *h_next) {
    for (i64 n = 0; n < N; n++) {
        const float bn = Bt[n];
        const float *An = A + n * E, *hn = h + n * E;
        float *out = h_next + n * E;
#pragma omp simd
        for (i64 e = 0; e < E; e++)
            out[e] = expf(dt[e] * An[e]) * hn[e] + dt[e] * ut[e] * bn;
    }
}

/* y and the final state h (b, N, E) of rows [b0, b1), from h = 0 */
void mamba_fused_forward(i64 b0, i64 b1, i64 L, i64 E, i64 N, const float *u,
                         const float *delta, const float *A, const float *B, const float *C,
                         float *y, float *h) {
    for (i64 b = b0; b < b1; b++) {
        float *hb = h + b * N * E;
        memset(hb, 0, sizeof(float) * N * E);
        for (i64 t = 0; t < L; t++) {
            const i64 row = b * L + t;
            const float *dt = delta + row * E, *ut = u + row * E;
            const float *Bt = B + row * N, *Ct = C + row * N;
            float *yt = y + row * E;
            memset(yt, 0, sizeof(float) * E);
            for (i64 n = 0; n < N; n++) {
                const float bn = Bt[n], cn = Ct[n];
                const float *An = A + n * E;
                float *hn = hb + n * E;
#pragma omp simd
                for (i64 e = 0; e < E; e++) {
                    const float hv = expf(dt[e] * An[e]) * hn[e] + dt[e] * ut[e] * bn;
                    hn[e] = hv;
                    yt[e] += cn * hv;
                }
            }
        }
    }
}

/* Floats of work space one backward call over any number of rows needs. */
i64 mamba_fused_work_floats(i64 L, i64 E, i64 N, i64 seg) {
    const i64 segments = (L + seg - 1) / seg;
    return (segments + seg + 2) * N * E + 2 * E;
}

/* The gradients of rows [b0, b1) from dy (b, L, E) and dh (b, N, E) or NULL.
 * For a_t = exp(delta_t A) the adjoint g_t = dL/dh_t = C_t dy_t + a_{t+1} g_{t+1}
 * runs backwards; d(delta u)_t = g_t . B_t, dB_t = g_t . (delta u)_t,
 * dC_t = h_t . dy_t, and r_t = a_t g_t h_{t-1}, the gradient of delta_t A,
 * gives d delta_t = r_t . A and dA = sum_t r_t delta_t. dA is written per row,
 * (b, N, E), for the caller to sum. The states come back segment by segment:
 * a first pass keeps the state at the start of every segment of seg positions,
 * then each segment's states are recomputed from it, last segment first. */
void mamba_fused_backward(i64 b0, i64 b1, i64 L, i64 E, i64 N, i64 seg, const float *u,
                          const float *delta, const float *A, const float *B, const float *C,
                          const float *dy, const float *dh, float *work, float *d_u,
                          float *d_delta, float *dA, float *dB, float *dC) {
    const i64 NE = N * E, segments = (L + seg - 1) / seg;
    float *starts = work;                  /* segments states */
    float *hs = starts + segments * NE;    /* seg + 1 states */
    float *g = hs + (seg + 1) * NE;        /* the adjoint */
    float *d_du = g + NE, *d_dl = d_du + E;
    for (i64 b = b0; b < b1; b++) {
        float *dAb = dA + b * NE;
        memset(dAb, 0, sizeof(float) * NE);
        memset(starts, 0, sizeof(float) * NE);
        memcpy(hs, starts, sizeof(float) * NE);
        for (i64 t = 0; t < (segments - 1) * seg; t++) {
            const i64 row = b * L + t;
            float *next = (t + 1) % seg == 0 ? starts + (t + 1) / seg * NE : hs;
            advance(E, N, delta + row * E, u + row * E, A, B + row * N, hs, next);
            if (next != hs)
                memcpy(hs, next, sizeof(float) * NE);
        }
        if (dh)
            memcpy(g, dh + b * NE, sizeof(float) * NE);
        else
            memset(g, 0, sizeof(float) * NE);
        for (i64 s = segments - 1; s >= 0; s--) {
            const i64 first = s * seg, last = first + seg < L ? first + seg : L;
            memcpy(hs, starts + s * NE, sizeof(float) * NE);
            for (i64 t = first; t < last; t++) {
                const i64 row = b * L + t, i = t - first;
                advance(E, N, delta + row * E, u + row * E, A, B + row * N, hs + i * NE,
                        hs + (i + 1) * NE);
            }
            for (i64 t = last - 1; t >= first; t--) {
                const i64 row = b * L + t;
                const float *dt = delta + row * E, *ut = u + row * E, *dyt = dy + row * E;
                const float *Bt = B + row * N, *Ct = C + row * N;
                const float *h_prev = hs + (t - first) * NE, *h_now = h_prev + NE;
                memset(d_du, 0, sizeof(float) * E);
                memset(d_dl, 0, sizeof(float) * E);
                for (i64 n = 0; n < N; n++) {
                    const float bn = Bt[n], cn = Ct[n];
                    const float *An = A + n * E, *hp = h_prev + n * E, *hc = h_now + n * E;
                    float *gn = g + n * E, *dAn = dAb + n * E;
                    float sum_b = 0.f, sum_c = 0.f;
#pragma omp simd reduction(+ : sum_b, sum_c)
                    for (i64 e = 0; e < E; e++) {
                        const float gv = gn[e] + cn * dyt[e];
                        d_du[e] += bn * gv;
                        sum_b += dt[e] * ut[e] * gv;
                        sum_c += dyt[e] * hc[e];
                        const float ga = gv * expf(dt[e] * An[e]);
                        const float r = ga * hp[e];
                        dAn[e] += r * dt[e];
                        d_dl[e] += r * An[e];
                        gn[e] = ga;
                    }
                    dB[row * N + n] = sum_b;
                    dC[row * N + n] = sum_c;
                }
#pragma omp simd
                for (i64 e = 0; e < E; e++) {
                    d_u[row * E + e] = d_du[e] * dt[e];
                    d_delta[row * E + e] = d_dl[e] + d_du[e] * ut[e];
                }
            }
        }
    }
}
