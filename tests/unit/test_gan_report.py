from ganops.evaluation.report import gan_report_markdown


def test_report_has_each_variant_and_the_reference_rows():
    variants = {
        "dcgan": {
            "fid_5k_domain": 12.5,
            "fid_std_5k_domain": 0.3,
            "is_5k_domain": 8.1,
            "kid_5k_domain": 0.01,
        },
        "seed_mlp": {"fid_5k_domain": 80.0, "is_5k_domain": 5.0},
    }
    reference = {"fid_floor_real_domain": 1.1, "is_ceiling_real_domain": 9.0, "fid_noise_domain": 900.0}
    text = gan_report_markdown(variants, reference, 5000, chosen="dcgan")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| variant | fid (↓)")
    assert rows[1].startswith("| **dcgan** (registered) | 12.5 ± 0.3 |")
    assert rows[2].startswith("| seed_mlp | 80 |")
    assert rows[3].startswith("| _real floor / ceiling_ | 1.1 |") and "| 9 |" in rows[3]
    assert rows[4].startswith("| _noise generator_ | 900 |")
