"""Electron atomic scattering factors and kinematic structure factors.

Electron scattering factors follow the parameterisation of

    I. Lobato and D. Van Dyck, "An accurate parameterization for scattering
    factors, electron densities and electrostatic potentials for neutral atoms
    that obey all physical constraints", Acta Cryst. A70, 636–649 (2014),
    doi:10.1107/S205327331401643X,

.. math:: f_e(g) = \\sum_{i=1}^{5} a_i \\frac{2 + b_i g^2}{(1 + b_i g^2)^2}

with g = 2 sinθ/λ = 1/d [Å⁻¹] (the paper's own variable, identical to uedflow's
s = 1/d; *not* sinθ/λ and *not* q = 2π/d), a_i in Å, b_i in Å². The coefficients
below are the published table (as distributed in abTEM's ``lobato.json``, MIT
licence). They are the non-relativistic scattering factors; the relativistic
mass factor γ multiplies every f_e alike and does not change relative
intensities, so it is left out. The parameterisation has the exact Mott–Bethe
tail, f_e → Z / (2π² a₀ s²) at large s (a₀ = Bohr radius), which the tests check.

Kinematic structure factors use f_e and an isotropic Debye–Waller factor
exp(−2π² ⟨u²⟩ s²) on the amplitude, so intensities carry exp(−4π² ⟨u²⟩ s²) with
⟨u²⟩ the mean-square displacement along one direction [Å²].
"""

from __future__ import annotations

import numpy as np

from uedflow.crystal.reflections import Reflection, parse_hkl, reflections
from uedflow.crystal.structures import Structure
from uedflow.errors import CrystalError

__all__ = [
    "LOBATO_PARAMETERS",
    "electron_scattering_factor",
    "structure_factor",
    "powder_ring_intensities",
]

#: Lobato & Van Dyck (2014) coefficients: element -> ((a1..a5) [Å], (b1..b5) [Å²]).
LOBATO_PARAMETERS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "H": ((0.00647384848835291, -0.490192576780229, 0.573284160390876, -0.37940330148399, 0.554426474774079),
          (2.78519885379148, 2.77620428330644, 2.77538591050625, 2.76759302867258, 2.76511897642927)),
    "C": ((124.466088621343, -220.352857078963, 195.235352280479, -98.1079361269799, 0.0142023041213623),
          (2.42120849256005, 2.30537943752425, 2.04851932106564, 1.93352552917547, 0.0768976818478339)),
    "N": ((58.1327150702556, -147.542409087812, 130.143065649639, -39.6195674084154, 0.010595776333148),
          (1.70044856413471, 1.5590385260174, 1.41576827473146, 1.27841818205455, 0.0565587798474805)),
    "O": ((29.9474045242362, -77.6101266255278, 99.8817764623144, -51.2127005505673, 0.00819618954446032),
          (1.3028398788001, 1.15794105258309, 1.00988549338025, 0.943327971433266, 0.0433197611321825)),
    "Na": ((23.6700603946792, -21.8531786159742, 0.592499448108946, -0.0244652290310244, 0.00483950221706535),
           (8.45148773514603, 8.04096600474298, 0.624996000526315, 0.132450394947296, 0.0233994362049878)),
    "Mg": ((4.85501047687149, -2.66220906476843, 0.478001236085108, -0.0702307064692064, 0.00398905828104019),
           (5.94639273842456, 4.17130312520697, 0.398269808150374, 0.161886185837474, 0.0195345056363103)),
    "Al": ((2.83409561607507, -4.28004133378261, 4.42191680548311, -0.03457744718964, 0.00352385941406079),
           (6.66235023980533, 0.551294722224021, 0.509328963445973, 0.111784837425331, 0.0167602351805257)),
    "Si": ((2.87189142611612, -2.06173501195173, 2.17114024204478, -0.0663073633058801, 0.00301070709670513),
           (5.08487103642989, 0.429178185305126, 0.366485434192162, 0.119710611296903, 0.0143994536128397)),
    "S": ((2.67971415610199, -0.474252822230755, 0.514835948989687, -0.0958360024990722, 0.00248871963818935),
          (3.06889121199971, 0.378216702185809, 0.188721811902548, 0.0923370590031494, 0.0111920877241144)),
    "Cl": ((2.5662483998002, -0.338876350828591, 1.14584558755515, -0.923109316547079, 0.00229168002041042),
           (2.41594920365612, 0.421414239310216, 0.10959240497583, 0.0990955458226753, 0.00999665948927521)),
    "Ti": ((8.57595775238129, -210.331563465304, 206.097172601541, 0.0477773948977261, 0.00050571648448032),
           (6.00780668875581, 2.60285856745213, 2.55352345051105, 0.0711429484024153, 0.00485628439383726)),
    "V": ((6.52768433234789, -200.430576829172, 198.015053889994, 0.0413911518064005, 0.00044745502432986),
          (5.83552479352448, 2.23255952381127, 2.19786018594229, 0.0623973876828547, 0.00440383649079958)),
    "Cr": ((3.02831784843691, -95.5393933081432, 96.1761562352198, 0.0359777315957987, 0.00039149289071842),
           (8.35911504314631, 1.80263790264103, 1.77509488957047, 0.0548144412143113, 0.00399828968916034)),
    "Fe": ((3.79810090836859, -91.6893549381687, 91.4454252155429, 0.0272754344027604, 0.00030337985438377),
           (5.31712645899433, 1.49713094884748, 1.4680924180441, 0.0427247850128954, 0.00332791855231874)),
    "Ni": ((2.96908078725286, -75.747706912904, 76.0398287625307, 0.0210162113692967, 0.00023115175113515),
           (5.0418094910938, 1.18275507921629, 1.16216545846629, 0.0337479087883035, 0.0027868086207074)),
    "Cu": ((1.75207145212145, -43.0410523492124, 44.0705915543573, 0.0186876154088144, 0.00020172732479162),
           (6.18750497986187, 1.00266263628976, 0.98538431135303, 0.0302984703916117, 0.00255855598748879)),
    "Zn": ((2.46637110499459, -61.4678541332537, 62.0176945237481, 0.0164160173931416, 0.00017248711759538),
           (4.91028078493815, 0.967898520322992, 0.951283834775355, 0.0269600967667566, 0.00234109611046253)),
    "Ga": ((2.76010203108428, -34.4452614207467, 35.2262267244016, 0.0132067196999419, 0.00012594556092825),
           (6.10128224537662, 0.765143313553464, 0.751328623382859, 0.0224879634317251, 0.00206737374278712)),
    "Ge": ((3.1824163526, -52.4514037811166, 52.9690827162218, 0.0114096168591864, 9.509543581451e-05),
           (5.01719040860914, 0.712395764437798, 0.702280192528194, 0.0196747295694015, 0.00184146614494011)),
    "As": ((3.45642969119604, -33.3176044431721, 33.5712193855332, 0.00979002295640342, 6.534348622652e-05),
           (4.01358016032945, 0.662355778050629, 0.645771941056073, 0.0170919353231011, 0.0016030160283942)),
    "Se": ((3.64905047801926, -43.6851662221238, 43.6920288601154, 0.00844902284199144, 3.7861147411e-05),
           (3.25043267112593, 0.609666201650289, 0.596971300802123, 0.0148554512740362, 0.00133625587356563)),
    "Mo": ((2.83105968432053, 2.34858137489674, 0.245105888429696, 0.00235282108218515, 2.3127083834e-07),
           (10.435719575895, 1.60482868674597, 0.131696934774606, 0.00554977901383345, 0.0002227474637649)),
    "Ag": ((1.55317216680389, 2.63930364699988, 0.142015486956788, 0.0010085046009976, 1.9463842997e-07),
           (8.15620235758956, 1.21600887481801, 0.0790098864915873, 0.00296547901363949, 0.00017459309591915)),
    "Cd": ((61.530785199286, -78.6016741201582, 21.550129260277, 0.137685015664191, 0.00032464493094652),
           (3.11468102533247, 2.76016983388574, 1.93551312324722, 0.0722468347260293, 0.00117001629624684)),
    "In": ((4.22232177901524, -26.4121318353202, 27.2852852708746, 0.121617901884138, 0.00030688354637153),
           (6.07265510403227, 1.64550178959387, 1.52257074939506, 0.0656507914695225, 0.00112093851473035)),
    "Sn": ((5.14222074642053, -25.4945413762576, 25.7414487548601, 0.111778227592199, 0.00029364738473774),
           (5.27272636474484, 1.53194959209148, 1.40257525040087, 0.0611685387263086, 0.00107560815394522)),
    "Sb": ((6.24164031831883, -93.3868724419552, 92.6332875829884, 0.103412692221298, 0.00028184842689439),
           (4.26984108082687, 1.3940774614025, 1.35566854910434, 0.0572667949652199, 0.00103307954282067)),
    "Te": ((7.37743301813403, -126.025106931628, 124.128405004095, 0.0959978371818569, 0.00027107221639888),
           (3.46917757783897, 1.29759810886736, 1.26771067646066, 0.0537771750179423, 0.00099308457702918)),
    "Cs": ((4.28708739181692, 3.23250665422965, 0.674029533561706, 0.0618908083387697, 0.00023561205295219),
           (22.6587870798541, 2.23797386470064, 0.368995568664316, 0.0402266575298484, 0.00088376189087804)),
    "Pt": ((2.04021563975728, 2.89922634624825, 0.636344083815797, 0.0132071919595408, 5.673821925001e-05),
           (6.65819429609627, 1.41337923778932, 0.174000104502179, 0.010068780453021, 0.00040307710569222)),
    "Au": ((1.6759346706487, 3.00486602969729, 0.595340013161635, 0.0117163186623094, 4.296782976398e-05),
           (5.52231093211402, 1.38007223007196, 0.162229237655945, 0.00901814890416575, 0.00037927766747767)),
    "Pb": ((3.60861020997771, 2.45056774737198, 0.478639500107257, 0.00887214235169215, 1.040019329095e-05),
           (6.58162594621962, 1.02772852660588, 0.13353368063472, 0.00684861238948429, 0.00027638887545667)),
    "Bi": ((4.24209901057315, 2.09994342055827, 0.432836631379922, 0.00802021570381059, 7.2178503085e-07),
           (5.7528011553608, 0.873901489195461, 0.123599956180524, 0.0061760033305857, 0.00014149517761723)),
}


def electron_scattering_factor(element: str, s: np.ndarray | float) -> np.ndarray:
    """Electron atomic scattering factor f_e(s) of a neutral atom [Å].

    Lobato & Van Dyck (2014), see the module docstring; s = 1/d = 2 sinθ/λ.

    Parameters
    ----------
    element : str
        Element symbol, properly capitalised (``"Pb"``).
    s : float or ndarray
        Scattering vector s = 1/d [Å⁻¹] (q = 2πs).

    Returns
    -------
    ndarray
        f_e [Å], same shape as ``s``.

    Raises
    ------
    CrystalError
        No parameters for ``element``.

    Examples
    --------
    >>> round(float(electron_scattering_factor("Pb", 0.0)), 3)
    13.093
    """
    try:
        a, b = LOBATO_PARAMETERS[element]
    except KeyError:
        raise CrystalError(
            f"no electron scattering factor for element {element!r}; available: "
            f"{', '.join(LOBATO_PARAMETERS)} (symbols are case-sensitive, e.g. 'Pb')"
        ) from None
    g2 = np.asarray(s, dtype=float) ** 2
    out = np.zeros_like(g2)
    for ai, bi in zip(a, b, strict=True):
        x = 1.0 + bi * g2
        out += ai * (1.0 + x) / (x * x)
    return out


def structure_factor(
    structure: Structure, hkl: tuple[int, int, int] | str, *, msd_angstrom2: float = 0.0
) -> complex:
    """Kinematic electron structure factor of one reflection [Å].

    .. math:: F(hkl) = \\sum_j f_{e,j}(s)\\, e^{2\\pi i (h x_j + k y_j + l z_j)}\\, e^{-2\\pi^2 \\langle u^2\\rangle s^2}

    Parameters
    ----------
    structure : Structure
        The cubic crystal (conventional cell).
    hkl : (int, int, int) or str
        Miller indices; a tuple is used as given (signs matter for
        non-centrosymmetric cells), a string is parsed by
        :func:`~uedflow.crystal.parse_hkl`.
    msd_angstrom2 : float
        Isotropic mean-square displacement along one direction ⟨u²⟩ [Å²].

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> abs(structure_factor(get_structure("PbSe"), "111")) < abs(structure_factor(get_structure("PbSe"), "200"))
    True
    """
    idx = parse_hkl(hkl) if isinstance(hkl, str) else tuple(int(i) for i in hkl)
    if len(idx) != 3 or idx == (0, 0, 0):
        raise CrystalError(f"hkl must be three integers, not all zero; got {hkl!r}")
    if msd_angstrom2 < 0:
        raise CrystalError(f"msd_angstrom2 must be >= 0 Å², got {msd_angstrom2}")
    s = float(np.sqrt(np.dot(idx, idx))) / structure.a_angstrom
    phases = np.exp(2j * np.pi * (structure.positions @ np.asarray(idx, dtype=float)))
    f = np.array([float(electron_scattering_factor(el, s)) for el in structure.species])
    return complex(np.sum(f * phases) * np.exp(-2.0 * np.pi**2 * msd_angstrom2 * s * s))


def powder_ring_intensities(
    structure: Structure, s_max: float, *, msd_angstrom2: float = 0.0, lorentz: bool = False
) -> list[tuple[Reflection, float]]:
    """Kinematic powder ring intensities m |F|² of every allowed reflection up to ``s_max``.

    Parameters
    ----------
    structure : Structure
        The crystal.
    s_max : float
        Largest s = 1/d [Å⁻¹].
    msd_angstrom2 : float
        Isotropic ⟨u²⟩ along one direction [Å²] (Debye–Waller factor).
    lorentz : bool
        If False (default) the value is the ring's total scattering m |F|²
        [Å²], with no Lorentz factor. If True it is divided by s², which gives
        the integrated area (over s) of the ring in the orientation-averaged
        profile I(s) (the powder Lorentz factor of the Debye equation for small
        scattering angles); use this to build 1D profiles.

    Returns
    -------
    list of (Reflection, float)
        Ordered by s.

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> rings = powder_ring_intensities(get_structure("PbSe"), 0.6)
    >>> [r.label for r, _ in rings]
    ['111', '200', '220', '311', '222']
    """
    out = []
    for ref in reflections(structure, s_max):
        value = ref.multiplicity * abs(structure_factor(structure, ref.hkl, msd_angstrom2=msd_angstrom2)) ** 2
        if lorentz:
            value /= ref.s_inv_angstrom**2
        out.append((ref, float(value)))
    return out
