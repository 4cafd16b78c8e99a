"""GSM-7 arithmetic and the dispatch / pre-arrival SMS composers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain import Complaint, Triage, UnitType
from dispatch.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_LINK,
    REPLY_CODES,
    compose_crew_notice_sms,
    compose_dispatch_sms,
    compose_prearrival_sms,
    is_gsm7,
    map_link,
    patient_count,
    septets,
    sms_parts,
    to_gsm7,
    truncate,
)
from dispatch.travel import LatLon

SCENE = LatLon(-7.754321, 113.215678)
LINK = "https://siaga.example/s/Ab3dE9xK"
NUMBER = "PSC-20261128-0007"


class TestGsm7:
    def test_basic_set_and_extension_table_sizes(self) -> None:
        # 128 code points less ESC; 9 extension characters plus form feed.
        assert len(GSM7_BASIC) == 127 and len(GSM7_EXTENSION) == 10

    def test_indonesian_text_is_gsm7(self) -> None:
        assert is_gsm7("Kecelakaan di Jl. Panglima Sudirman No. 5, RT 02/RW 03 (depan toko)")

    @pytest.mark.parametrize("text", ["“kutip”", "a–b", "café ☕", "`", "ç"])
    def test_non_gsm7(self, text: str) -> None:
        assert not is_gsm7(text)

    def test_extension_characters_cost_two_septets(self) -> None:
        assert septets("abc") == 3
        assert septets("€[]") == 6
        with pytest.raises(ValueError):
            septets("ă")

    @pytest.mark.parametrize(
        ("text", "parts"),
        [("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
         ("€" * 80, 1), ("€" * 81, 2),
         # An escape pair is never split: 152 + 2 + 152 septets is 306 but needs 3 parts.
         ("a" * 152 + "€" + "a" * 152, 3),
         ("ă" * 70, 1), ("ă" * 71, 2), ("ă" * 134, 2), ("ă" * 135, 3)],
    )
    def test_parts(self, text: str, parts: int) -> None:
        assert sms_parts(text) == parts

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("“Awas” – jalan licin…", '"Awas" - jalan licin...'),
         ("São Paulo ąę", "Sao Paulo ae"),
         ("Jl.\u00a0Mastrip", "Jl. Mastrip"),
         ("TD ±120", "TD +/-120"),
         ("pasien 😀", "pasien ?"),
         ("héllo Ñ", "héllo Ñ")],
    )
    def test_transliteration(self, text: str, expected: str) -> None:
        assert to_gsm7(text) == expected

    @given(st.text())
    def test_transliteration_always_yields_gsm7(self, text: str) -> None:
        assert is_gsm7(to_gsm7(text))

    @given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION)))
    def test_gsm7_text_is_left_alone(self, text: str) -> None:
        assert to_gsm7(text) == text

    @given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION)), st.integers(0, 200))
    def test_truncate_respects_the_limit(self, text: str, limit: int) -> None:
        cut = truncate(text, limit)
        assert septets(cut) <= limit
        if septets(text) <= limit:
            assert cut == text
        elif cut:
            assert cut.endswith("..")

    def test_truncate_prefers_a_word_boundary(self) -> None:
        assert truncate("Jl. Panglima Sudirman nomor lima", 24) == "Jl. Panglima Sudirman.."


def dispatch_sms(**overrides: object) -> str:
    args: dict[str, object] = dict(
        number=NUMBER, triage=Triage.MERAH, complaint=Complaint.TRAUMA,
        address="Jl. Panglima Sudirman No. 5", kelurahan="Mayangan", scene=SCENE, link=LINK,
        hospital="RSUD dr. Mohamad Saleh", notes="1 tidak sadar, terjepit",
        landmark="depan Masjid Agung", patients=2, caller_phone="+6281234567890")
    args.update(overrides)
    return compose_dispatch_sms(**args)  # type: ignore[arg-type]


class TestDispatchSms:
    def test_everything_the_crew_needs(self) -> None:
        text = dispatch_sms(address="Jl. Sudirman 5", notes="pingsan", hospital="RSUD Ar-Rozy")
        assert text.split("\n") == [
            "PSC-20261128-0007 MERAH Kecelakaan/trauma",
            "Jl. Sudirman 5, Kel. Mayangan",
            "Patokan: depan Masjid Agung",
            "2 pasien, telp +6281234567890",
            "Ket: pingsan",
            "Peta: https://maps.google.com/?q=-7.75432,113.21568",
            "RS: RSUD Ar-Rozy",
            REPLY_CODES,
            f"Lapor: {LINK}",
        ]
        assert sms_parts(text) == 2 and is_gsm7(text)

    def test_what_does_not_fit_is_cut_notes_first(self) -> None:
        lines = dispatch_sms().split("\n")
        assert lines[1] == "Jl. Panglima Sudirman No. 5, Kel. Mayangan"
        assert not any(line.startswith("Ket:") for line in lines)
        assert "RS: RSUD dr.." in lines

    def test_no_hospital_and_no_notes_leave_no_empty_lines(self) -> None:
        text = dispatch_sms(hospital=None, notes="", landmark="", caller_phone=None)
        assert "RS:" not in text and "Ket:" not in text and "\n\n" not in text
        assert "Patokan" not in text and text.split("\n")[2] == "2 pasien"

    def test_an_approximate_position_is_marked_on_the_map_line(self) -> None:
        lines = dispatch_sms(approximate=True).split("\n")
        assert "Peta (perkiraan): https://maps.google.com/?q=-7.75432,113.21568" in lines
        assert not any(line.startswith("Peta: ") for line in lines)
        assert "(perkiraan)" not in dispatch_sms(approximate=False)

    def test_notes_are_cut_before_address_and_landmark(self) -> None:
        text = dispatch_sms(notes="pasien sesak berat, riwayat asma, " * 12,
                            hospital="RSUD Ar-Rozy", address="Jl. Sudirman 5", landmark="",
                            caller_phone=None)
        lines = text.split("\n")
        assert sms_parts(text) == 2 and is_gsm7(text)
        assert lines[1] == "Jl. Sudirman 5, Kel. Mayangan" and lines[2] == "2 pasien"
        assert lines[3].startswith("Ket: pasien sesak berat") and lines[3].endswith("..")
        assert "RS: RSUD Ar-Rozy" in lines

    def test_the_destination_goes_before_the_address(self) -> None:
        text = dispatch_sms(notes="x", address="Jl. Raya Bromo gang " * 6,
                            landmark="pertigaan lampu merah")
        assert "Ket:" not in text and "RS:" not in text and sms_parts(text) == 2
        assert "Patokan: pertigaan lampu merah" in text

    def test_address_is_cut_only_when_the_notes_are_gone(self) -> None:
        text = dispatch_sms(notes="korban terjepit di mobil " * 20,
                            address="Perumahan Griya Asri blok C " * 30,
                            landmark="sebelah SDN 3")
        assert sms_parts(text) == 2 and "Ket:" not in text
        assert "Patokan: sebelah SDN 3\n" in text and ".., Kel. Mayangan" in text
        assert "2 pasien, telp +6281234567890" in text

    def test_the_patient_count_of_a_share_and_of_the_whole(self) -> None:
        assert patient_count(12, 3) == "Bawa 3 dari 12 pasien"
        assert patient_count(12, 12) == patient_count(12) == "12 pasien"

    def test_a_mass_casualty_share_says_how_many_of_how_many(self) -> None:
        lines = dispatch_sms(patients=12, carried=3).split("\n")
        assert "Bawa 3 dari 12 pasien, telp +6281234567890" in lines
        whole = dispatch_sms(patients=12, carried=12).split("\n")
        assert "12 pasien, telp +6281234567890" in whole
        assert not any("Bawa" in line for line in whole)

    def test_missing_address_points_to_the_map(self) -> None:
        assert dispatch_sms(address="", kelurahan="").split("\n")[1] == "Lokasi: lihat peta"
        assert dispatch_sms(address=" ", kelurahan="Jati").split("\n")[1] == "Kel. Jati"

    def test_long_address_is_cut_and_kelurahan_kept(self) -> None:
        address = "Jl. Soekarno-Hatta No. 12, RT 02/RW 03, gang sebelah masjid, " * 20
        text = dispatch_sms(address=address, notes="")
        line = text.split("\n")[1]
        assert line.startswith("Jl. Soekarno-Hatta No. 12") and ".., Kel. Mayangan" in line
        assert sms_parts(text) == 2 and is_gsm7(text)

    def test_short_landmark_survives_a_long_address(self) -> None:
        text = dispatch_sms(address="Perumahan Griya Asri blok C " * 30, notes="")
        assert "Patokan: depan Masjid Agung\n" in text and sms_parts(text) <= 2

    def test_non_gsm_input_is_transliterated(self) -> None:
        text = dispatch_sms(address="Jl. “Merdeka” – dekat café", kelurahan="Kanigaran")
        assert 'Jl. "Merdeka" - dekat café, Kel. Kanigaran' in text and is_gsm7(text)

    def test_a_fixed_part_that_cannot_fit_is_refused(self) -> None:
        with pytest.raises(ValueError, match="does not fit"):
            dispatch_sms(number="PSC-" + "9" * 300)

    def test_link_too_long_is_refused(self) -> None:
        with pytest.raises(ValueError):
            dispatch_sms(link="https://siaga.example/s/" + "x" * MAX_LINK)

    @given(
        address=st.text(max_size=600), notes=st.text(max_size=400),
        landmark=st.text(max_size=300), patients=st.integers(1, 500),
        carried=st.none() | st.integers(0, 500), approximate=st.booleans(),
        kelurahan=st.text(max_size=60), hospital=st.none() | st.text(max_size=120),
        link=st.from_regex(r"https://[a-z0-9.]{1,20}/[A-Za-z0-9_~-]{1,30}", fullmatch=True),
        triage=st.sampled_from(Triage), complaint=st.sampled_from(Complaint),
        lat=st.floats(-90, 90), lon=st.floats(-180, 180),
    )
    def test_always_gsm7_in_at_most_two_parts(self, address, notes, landmark, patients,
                                              carried, approximate, kelurahan, hospital, link,
                                              triage, complaint, lat, lon) -> None:
        text = compose_dispatch_sms(number=NUMBER, triage=triage, complaint=complaint,
                                    address=address, kelurahan=kelurahan,
                                    scene=LatLon(lat, lon), link=link, hospital=hospital,
                                    notes=notes, landmark=landmark, patients=patients,
                                    carried=carried, caller_phone="+6281234567890",
                                    approximate=approximate)
        assert is_gsm7(text) and sms_parts(text) <= 2
        for fixed in (NUMBER, triage.name, REPLY_CODES, f"Lapor: {link}",
                      f"{patients} pasien, telp +6281234567890",
                      map_link(LatLon(lat, lon))):
            assert fixed in text


class TestPrearrivalSms:
    def test_content_and_time_in_wib(self) -> None:
        text = compose_prearrival_sms(
            number=NUMBER, triage=Triage.MERAH, complaint=Complaint.CARDIAC,
            unit="AMB-KANIGARAN", unit_type=UnitType.ALS,
            eta=datetime(2026, 11, 28, 2, 41, tzinfo=UTC), patients=1,
            notes="Laki-laki 50 th, nyeri dada", link="https://siaga.example/h/Zx81")
        assert text.split("\n") == [
            "PSC 119 pra-RS PSC-20261128-0007",
            "MERAH Jantung, 1 pasien",
            "Ket: Laki-laki 50 th, nyeri dada",
            "Unit AMB-KANIGARAN (ALS), tiba ~09:41 WIB",
            "Konfirmasi: https://siaga.example/h/Zx81",
        ]

    def test_naive_eta_is_refused(self) -> None:
        with pytest.raises(ValueError):
            compose_prearrival_sms(number=NUMBER, triage=Triage.KUNING,
                                   complaint=Complaint.OTHER, unit="AMB-JATI",
                                   unit_type=UnitType.BLS, eta=datetime(2026, 11, 28, 2, 41))

    @given(notes=st.text(max_size=800), unit=st.text(max_size=60),
           patients=st.integers(1, 99), with_eta=st.booleans())
    def test_always_gsm7_in_at_most_two_parts(self, notes, unit, patients, with_eta) -> None:
        eta = datetime(2026, 11, 28, 2, 41, tzinfo=UTC) if with_eta else None
        text = compose_prearrival_sms(number=NUMBER, triage=Triage.MERAH,
                                      complaint=Complaint.OBSTETRIC, unit=unit,
                                      unit_type=UnitType.BLS, eta=eta, patients=patients,
                                      notes=notes, link=LINK)
        assert is_gsm7(text) and sms_parts(text) <= 2
        assert NUMBER in text and f"Konfirmasi: {LINK}" in text


NOTICE_AT = datetime(2026, 11, 28, 2, 41, tzinfo=UTC)  # 09:41 WIB
TAP = "https://siaga.example/t/Ab3dE9xKAb3dE9xKAb3dE9"


def notice(kind: str, **overrides: object) -> str:
    args: dict[str, object] = dict(kind=kind, number=NUMBER, callsign="AMB-KANIGARAN",
                                   by="dispatcher1", at=NOTICE_AT, link=TAP,
                                   hospital="RSUD dr. Mohamad Saleh")
    args.update(overrides)
    return compose_crew_notice_sms(**args)  # type: ignore[arg-type]


class TestCrewNoticeSms:
    def test_cancelled(self) -> None:
        assert notice("cancelled").split("\n") == [
            "PSC-20261128-0007 DIBATALKAN oleh dispatcher1 09:41 WIB.",
            "Hentikan tugas, unit siaga kembali.",
            f"Info: {TAP}",
        ]

    def test_stood_down(self) -> None:
        assert notice("stood_down").split("\n")[0] == (
            "PSC-20261128-0007 DIALIHKAN ke unit lain oleh dispatcher1 09:41 WIB.")

    def test_new_destination_and_none(self) -> None:
        assert notice("destination_changed").split("\n")[:2] == [
            "PSC-20261128-0007 RS TUJUAN BARU: RSUD dr. Mohamad Saleh",
            "(diubah oleh dispatcher1 09:41 WIB)"]
        assert "RS TUJUAN BARU: belum ada" in notice("destination_changed", hospital=None)

    def test_out_of_service_says_only_psc_can_undo_it(self) -> None:
        lines = notice("out_of_service", by="spv1").split("\n")
        assert lines[:2] == [
            "PSC-20261128-0007 dihentikan: unit AMB-KANIGARAN DINONAKTIFKAN oleh spv1 09:41 WIB.",
            "Aktif lagi hanya lewat PSC 119."]

    @pytest.mark.parametrize("kind", ["cancelled", "stood_down", "destination_changed"])
    def test_short_notices_are_one_sms(self, kind: str) -> None:
        text = notice(kind)
        assert is_gsm7(text) and sms_parts(text) == 1

    @given(kind=st.sampled_from(["cancelled", "stood_down", "destination_changed",
                                 "out_of_service"]),
           by=st.text(max_size=80), callsign=st.text(max_size=60),
           hospital=st.none() | st.text(max_size=120))
    def test_always_gsm7_in_at_most_two_parts(self, kind, by, callsign, hospital) -> None:
        text = notice(kind, by=by, callsign=callsign, hospital=hospital)
        assert is_gsm7(text) and sms_parts(text) <= 2 and text.endswith(f"Info: {TAP}")

    def test_unknown_kind_and_naive_time_are_refused(self) -> None:
        with pytest.raises(ValueError, match="kind"):
            notice("lost")
        with pytest.raises(ValueError, match="aware"):
            notice("cancelled", at=NOTICE_AT.replace(tzinfo=None))
