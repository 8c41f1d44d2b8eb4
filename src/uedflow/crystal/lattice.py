"""General crystal lattices: cell parameters, metric tensors, d and s = 1/d of any hkl.

Lengths in Å, angles in degrees, s = 1/d in Å⁻¹ (q = 2πs). The reciprocal
metric tensor G* = G⁻¹ gives s² = hᵀ G* h for any cell (Giacovazzo et al.,
*Fundamentals of Crystallography*, 3rd ed., OUP 2011, ch. 2).

Anisotropic displacement parameters U_ij [Å²] follow the CIF convention
(Grosse-Kunstleve & Adams, J. Appl. Cryst. 35, 477 (2002)): the Debye–Waller
factor of an atom's scattering amplitude is exp(−2π² hᵀ N U N h) with
N = diag(a*, b*, c*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uedflow.errors import CrystalError

__all__ = ["Lattice"]


@dataclass(frozen=True)
class Lattice:
    """A unit cell.

    Parameters
    ----------
    a, b, c : float
        Cell edges [Å].
    alpha, beta, gamma : float
        Cell angles [degrees].

    Examples
    --------
    >>> hexagonal = Lattice(4.546, 4.546, 11.862, 90, 90, 120)
    >>> round(float(hexagonal.s_of((1, 1, 0))), 5)  # 1/d = 2/a for (110)
    0.43995
    """

    a: float
    b: float
    c: float
    alpha: float = 90.0
    beta: float = 90.0
    gamma: float = 90.0

    def __post_init__(self) -> None:
        values = np.array(self.parameters, float)
        if not np.all(np.isfinite(values)) or np.any(values[:3] <= 0):
            raise CrystalError(f"cell edges must be positive numbers of Å, got a, b, c = {values[:3].tolist()}")
        if np.any(values[3:] <= 0) or np.any(values[3:] >= 180):
            raise CrystalError(f"cell angles must lie between 0 and 180 degrees, got {values[3:].tolist()}")
        if not np.linalg.det(self.metric) > 0:
            raise CrystalError(f"cell angles {values[3:].tolist()} degrees do not form a cell (zero or negative volume)")

    @classmethod
    def cubic(cls, a_angstrom: float) -> Lattice:
        """The cubic cell of edge ``a_angstrom`` [Å]."""
        return cls(float(a_angstrom), float(a_angstrom), float(a_angstrom))

    @property
    def parameters(self) -> tuple[float, float, float, float, float, float]:
        """(a, b, c [Å], α, β, γ [degrees])."""
        return (self.a, self.b, self.c, self.alpha, self.beta, self.gamma)

    @property
    def metric(self) -> np.ndarray:
        """Direct metric tensor G_ij = a_i · a_j [Å²], shape (3, 3)."""
        ca, cb, cg = np.cos(np.radians([self.alpha, self.beta, self.gamma]))
        a, b, c = self.a, self.b, self.c
        return np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca], [a * c * cb, b * c * ca, c * c]])

    @property
    def reciprocal_metric(self) -> np.ndarray:
        """Reciprocal metric tensor G* = G⁻¹ [Å⁻²] (no 2π), shape (3, 3)."""
        return np.linalg.inv(self.metric)

    @property
    def reciprocal_lengths(self) -> np.ndarray:
        """a*, b*, c* [Å⁻¹] (no 2π)."""
        return np.sqrt(np.diag(self.reciprocal_metric))

    @property
    def volume_angstrom3(self) -> float:
        """Cell volume [Å³]."""
        return float(np.sqrt(np.linalg.det(self.metric)))

    @property
    def is_cubic(self) -> bool:
        """a = b = c and all angles 90°."""
        return bool(np.allclose([self.b, self.c], self.a, rtol=1e-6)
                    and np.allclose([self.alpha, self.beta, self.gamma], 90.0, atol=1e-6))

    def s_of(self, hkl: np.ndarray | tuple[int, int, int]) -> np.ndarray:
        """s = 1/d = √(hᵀ G* h) [Å⁻¹] of Miller indices ``hkl`` (..., 3)."""
        h = np.asarray(hkl, float)
        return np.sqrt(np.einsum("...i,ij,...j->...", h, self.reciprocal_metric, h))

    def hkl_within(self, s_max: float) -> np.ndarray:
        """Every (h, k, l) ≠ 0 with s ≤ ``s_max`` [Å⁻¹], shape (M, 3) int (|h| ≤ a s_max, since h = a·g)."""
        if not s_max > 0:
            raise CrystalError(f"s_max must be positive (Å⁻¹), got {s_max}")
        n = [int(np.floor(edge * s_max + 1e-9)) for edge in (self.a, self.b, self.c)]
        grid = np.stack(np.meshgrid(*(np.arange(-m, m + 1) for m in n), indexing="ij"), -1).reshape(-1, 3)
        grid = grid[np.any(grid != 0, axis=1)]
        return grid[self.s_of(grid) <= s_max * (1 + 1e-12)]

    def u_isotropic(self, u_iso_angstrom2: float) -> np.ndarray:
        """The CIF-convention U_ij [Å²] of an isotropic displacement ⟨u²⟩ = ``u_iso_angstrom2`` along any direction:
        U = N⁻¹ G* N⁻¹ U_iso, so that hᵀ N U N h = U_iso s²."""
        n_inv = 1.0 / self.reciprocal_lengths
        return u_iso_angstrom2 * self.reciprocal_metric * np.outer(n_inv, n_inv)

    def debye_waller_exponent(self, hkl: np.ndarray, u_cif: np.ndarray) -> np.ndarray:
        """2π² hᵀ N U N h for reflections ``hkl`` (M, 3) and atoms' U_ij ``u_cif`` (N, 3, 3) [Å²]: shape (M, N);
        the amplitude factor is exp(−value)."""
        n = self.reciprocal_lengths
        beta = np.asarray(u_cif, float) * np.outer(n, n)
        return 2.0 * np.pi**2 * np.einsum("mi,nij,mj->mn", np.asarray(hkl, float), beta, np.asarray(hkl, float))
