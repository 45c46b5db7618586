/* render: one frame of a Mandelbrot zoom, written as a binary PPM (P6).
 *
 * The Render Network's use case in miniature: a film is many frames, each frame is an
 * independent job, so frames can be spread over providers and checked by re-running one.
 *
 *   render FRAME WIDTH HEIGHT [MAX_ITER]  ->  /out/frame-FRAME.ppm  (FRAME zero-padded to 5)
 *
 * Every frame zooms 4% further into a fixed point of the Seahorse Valley. The arithmetic is
 * IEEE double and integers only, so the output is the same bytes on every machine (wasmtime
 * canonicalises NaNs; nothing here produces one). No clock, no randomness.
 */
#include <stdio.h>
#include <stdlib.h>

#define CENTER_X (-0.743643887037151)
#define CENTER_Y (0.131825904205330)
#define ZOOM_PER_FRAME 0.96 /* each frame shows 96% of the previous frame's width */
#define START_WIDTH 3.0     /* frame 0 spans 3 units of the complex plane */
#define MAX_SIDE 8192       /* pixels: bounds the allocation */

static unsigned char channel(double t, double phase) {
    /* a cheap periodic palette: a triangle wave in [0, 255] */
    double x = t * 0.05 + phase;
    x = x - (double)(long)x;
    x = x < 0.5 ? 2.0 * x : 2.0 - 2.0 * x;
    return (unsigned char)(x * 255.0);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: render FRAME WIDTH HEIGHT [MAX_ITER]\n");
        return 2;
    }
    long frame = strtol(argv[1], NULL, 10);
    long width = strtol(argv[2], NULL, 10);
    long height = strtol(argv[3], NULL, 10);
    long max_iter = argc > 4 ? strtol(argv[4], NULL, 10) : 256;
    if (frame < 0 || frame > 99999 || width < 1 || height < 1 || width > MAX_SIDE ||
        height > MAX_SIDE || max_iter < 1) {
        fprintf(stderr, "render: argument out of range\n");
        return 2;
    }
    double span = START_WIDTH;
    for (long i = 0; i < frame; i++) span *= ZOOM_PER_FRAME;
    double step = span / (double)width;
    double x0 = CENTER_X - step * (double)width / 2.0;
    double y0 = CENTER_Y + step * (double)height / 2.0;

    unsigned char *pixels = malloc((size_t)width * (size_t)height * 3);
    if (pixels == NULL) {
        fprintf(stderr, "render: out of memory\n");
        return 3;
    }
    for (long py = 0; py < height; py++) {
        double ci = y0 - step * (double)py;
        for (long px = 0; px < width; px++) {
            double cr = x0 + step * (double)px;
            double zr = 0.0, zi = 0.0, zr2 = 0.0, zi2 = 0.0;
            long n = 0;
            while (n < max_iter && zr2 + zi2 <= 4.0) {
                zi = 2.0 * zr * zi + ci;
                zr = zr2 - zi2 + cr;
                zr2 = zr * zr;
                zi2 = zi * zi;
                n++;
            }
            unsigned char *p = pixels + 3 * ((size_t)py * (size_t)width + (size_t)px);
            if (n == max_iter) {
                p[0] = p[1] = p[2] = 0;
            } else {
                p[0] = channel((double)n, 0.0);
                p[1] = channel((double)n, 0.33);
                p[2] = channel((double)n, 0.67);
            }
        }
    }

    char path[64];
    snprintf(path, sizeof path, "/out/frame-%05ld.ppm", frame);
    FILE *out = fopen(path, "wb");
    if (out == NULL) {
        perror("render: cannot open output");
        return 4;
    }
    fprintf(out, "P6\n%ld %ld\n255\n", width, height);
    size_t bytes = (size_t)width * (size_t)height * 3;
    if (fwrite(pixels, 1, bytes, out) != bytes || fclose(out) != 0) {
        perror("render: cannot write output");
        return 4;
    }
    free(pixels);
    printf("frame %ld: %ldx%ld, %ld iterations max\n", frame, width, height, max_iter);
    return 0;
}
