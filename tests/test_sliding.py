"""Sliding-window reductions against direct loops over the windows."""
import pytest
import torch

from soccerspot.models.sliding import window_count, window_maxima, window_quadratic_forms, window_sums


@pytest.mark.parametrize("rows, length", [(20, 1), (20, 7), (7, 7), (33, 5)])
def test_reductions_equal_loops_over_windows(rows, length):
    x = torch.randn(rows, 4, dtype=torch.float64)
    windows = [x[j : j + length] for j in range(rows - length + 1)]
    torch.testing.assert_close(window_sums(x, length), torch.stack([w.sum(0) for w in windows]), rtol=0, atol=1e-12)
    assert torch.equal(window_maxima(x, length), torch.stack([w.amax(0) for w in windows]))
    weights = torch.rand(rows, 3, dtype=torch.float64)
    forms = [torch.einsum("tk,sk,ts->k", weights[j : j + length], weights[j : j + length], w @ w.t())
             for j, w in enumerate(windows)]  # |sum_t w_tk x_t|^2 from each window's own Gram matrix
    torch.testing.assert_close(window_quadratic_forms(x, weights, length), torch.stack(forms), rtol=0, atol=1e-12)


def test_each_window_is_summed_from_its_own_rows():
    big = torch.tensor([[1e8], [1.0], [1.0], [-1e8]], dtype=torch.float32)
    assert window_sums(big, 2)[1].item() == 2.0  # differences of float32 prefix sums would lose the 1s
    assert window_sums(big, 2).dtype == torch.float64
    assert window_sums(big, 2, torch.float32)[1].item() == 2.0
    tiny = torch.cat([torch.full((40, 1), 1e30, dtype=torch.float64), torch.full((5, 1), 1e-30, dtype=torch.float64)])
    assert window_sums(tiny, 5)[-1].item() == pytest.approx(5e-30, rel=1e-15)  # 30 digits below the run's sum


def test_a_run_shorter_than_a_window_is_refused():
    assert window_count(10, 10) == 1
    with pytest.raises(ValueError, match="no window"):
        window_sums(torch.zeros(3, 2), 4)
