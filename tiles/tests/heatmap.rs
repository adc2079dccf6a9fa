//! Heat-map rasters decode as 256×256 RGBA, are transparent where empty and seamless.

use minqing_tiles::heatmap::{ColorRamp, PixelGrid, is_blank, render_heatmap_png};
use minqing_tiles::tile::TileId;

/// Quartic kernel, the shape the analysis crate uses (only for test values here).
fn quartic(d: f64, h: f64) -> f32 {
    if d >= h {
        0.0
    } else {
        let q = 1.0 - (d / h).powi(2);
        (q * q) as f32
    }
}

fn render(grid: &PixelGrid, centre: (f64, f64), h: f64) -> (Vec<f32>, image::RgbaImage) {
    let values: Vec<f32> = grid
        .centres()
        .map(|(x, y)| quartic(((x - centre.0).powi(2) + (y - centre.1).powi(2)).sqrt(), h))
        .collect();
    let png = render_heatmap_png(&values, 1.0, &ColorRamp::default()).unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!(img.color(), image::ColorType::Rgba8);
    (values, img.to_rgba8())
}

#[test]
fn png_shape_transparency_and_seams() {
    let left = TileId::from_lonlat(104.397, 31.127, 14).unwrap();
    let right = TileId::new(14, left.x() + 1, left.y()).unwrap();
    let (gl, gr) = (PixelGrid::new(left, 256), PixelGrid::new(right, 256));
    // The lattices continue across the seam.
    for row in [0, 100, 255] {
        let (a, b) = (gl.centre(255, row), gr.centre(0, row));
        assert!(
            (b.0 - a.0 - gl.pixel).abs() < 1e-6 && gl.pixel == gr.pixel && b.1 == a.1,
            "{a:?} {b:?}"
        );
    }
    // A kernel centred on the seam, on a pixel-row centre: columns 255 | 0 are mirror
    // images, so their values and pixels must be identical.
    let seam_x = gl.bounds.max_x;
    let centre = (seam_x, gl.centre(0, 128).1);
    let h = gl.pixel * 60.0;
    let (vl, il) = render(&gl, centre, h);
    let (vr, ir) = render(&gr, centre, h);
    assert_eq!((il.width(), il.height()), (256, 256));
    let mut coloured = 0;
    for row in 0..256u32 {
        let a = vl[(row * 256 + 255) as usize];
        let b = vr[(row * 256) as usize];
        assert!((a - b).abs() < 1e-6, "row {row}: {a} vs {b}");
        assert_eq!(il.get_pixel(255, row), ir.get_pixel(0, row), "row {row}");
        for col in 0..256u32 {
            let v = vl[(row * 256 + col) as usize];
            let px = il.get_pixel(col, row);
            if v == 0.0 {
                assert_eq!(px[3], 0, "zero value must be transparent");
            } else if v > 0.05 {
                assert!(px[3] > 0);
                coloured += 1;
            }
        }
    }
    assert!(coloured > 100);
    // Far from the kernel: all transparent, and is_blank agrees.
    let far = TileId::new(14, left.x() + 5, left.y()).unwrap();
    let (vf, imf) = render(&PixelGrid::new(far, 256), centre, h);
    assert!(is_blank(&vf, 1.0, &ColorRamp::default()));
    assert!(imf.pixels().all(|p| p[3] == 0));
    assert!(!is_blank(&vl, 1.0, &ColorRamp::default()));
}

#[test]
fn alpha_grows_with_value_and_inputs_are_checked() {
    let ramp = ColorRamp::default();
    let alphas: Vec<u8> = [0.0f32, 0.01, 0.1, 0.3, 0.6, 1.0, 5.0]
        .iter()
        .map(|&t| ramp.sample(t)[3])
        .collect();
    assert_eq!(alphas[0], 0);
    assert!(alphas.windows(2).all(|w| w[0] <= w[1]), "{alphas:?}");
    assert_eq!(ramp.sample(f32::NAN)[3], 0);
    assert!(render_heatmap_png(&[0.0; 10], 1.0, &ramp).is_err());
    assert!(ColorRamp::new(vec![(0.5, [0; 4]), (0.2, [0; 4])], 0.0).is_err());
    assert!(ColorRamp::new(vec![], 0.0).is_err());
    // Non-positive scale renders fully transparent rather than failing.
    let png = render_heatmap_png(&[1.0; 65536], 0.0, &ramp).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgba8();
    assert!(img.pixels().all(|p| p[3] == 0));
}

#[test]
fn influence_bounds_grow_by_bandwidth() {
    let g = PixelGrid::new(TileId::new(10, 800, 420).unwrap(), 256);
    let b = g.influence_bounds(500.0);
    assert!((b.width() - (g.bounds.width() + 1000.0)).abs() < 1e-6);
    assert!(b.contains(g.bounds.min_x - 499.0, g.bounds.max_y + 499.0));
}
