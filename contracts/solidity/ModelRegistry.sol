// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @notice Published models as ERC-721 assets. The token's owner sets the per-call price and may
/// deprecate the model; the developer who registered it is kept for attribution.
contract ModelRegistry is ERC721 {
    struct Model {
        bytes32 baseModelHash;
        bytes32 adapterHash;
        address developer;
        bool deprecated;
        uint256 pricePerCall;
    }

    /// The Merkle root of the records a model was trained on, per datanet.
    struct TrainingSet {
        uint256 datanetId;
        bytes32 root;
    }

    uint256 public modelCount;
    mapping(uint256 modelId => Model) private _models;
    mapping(uint256 modelId => TrainingSet[]) private _trainingSets;
    /// One model per adapter, so a retried registration can find the model it already made.
    mapping(bytes32 adapterHash => uint256 modelId) public modelIdOfAdapter;

    event ModelRegistered(
        uint256 indexed modelId,
        address indexed developer,
        bytes32 indexed adapterHash,
        bytes32 baseModelHash,
        uint256 pricePerCall
    );
    event TrainingSetRecorded(uint256 indexed modelId, uint256 indexed datanetId, bytes32 root);
    event PriceUpdated(uint256 indexed modelId, uint256 pricePerCall);
    event ModelDeprecated(uint256 indexed modelId);

    error UnknownModel(uint256 modelId);
    error NotModelOwner(uint256 modelId, address caller);
    error ModelIsDeprecated(uint256 modelId);
    error AdapterAlreadyRegistered(bytes32 adapterHash, uint256 modelId);
    error EmptyHash();

    constructor() ERC721("OpenLedger Model", "OLM") {}

    modifier onlyModelOwner(uint256 modelId) {
        address owner = _ownerOf(modelId);
        if (owner == address(0)) revert UnknownModel(modelId);
        if (owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
        if (_models[modelId].deprecated) revert ModelIsDeprecated(modelId);
        _;
    }

    /// @notice Registers a model; the caller is its developer and first owner. Ids start at 1.
    function registerModel(
        bytes32 baseModelHash,
        bytes32 adapterHash,
        TrainingSet[] calldata trainingSets,
        uint256 pricePerCall
    ) external returns (uint256 modelId) {
        if (baseModelHash == bytes32(0) || adapterHash == bytes32(0)) revert EmptyHash();
        uint256 existing = modelIdOfAdapter[adapterHash];
        if (existing != 0) revert AdapterAlreadyRegistered(adapterHash, existing);
        modelId = ++modelCount;
        _models[modelId] = Model(baseModelHash, adapterHash, msg.sender, false, pricePerCall);
        modelIdOfAdapter[adapterHash] = modelId;
        for (uint256 i = 0; i < trainingSets.length; ++i) {
            _trainingSets[modelId].push(trainingSets[i]);
            emit TrainingSetRecorded(modelId, trainingSets[i].datanetId, trainingSets[i].root);
        }
        _mint(msg.sender, modelId);
        emit ModelRegistered(modelId, msg.sender, adapterHash, baseModelHash, pricePerCall);
    }

    function setPrice(uint256 modelId, uint256 pricePerCall) external onlyModelOwner(modelId) {
        _models[modelId].pricePerCall = pricePerCall;
        emit PriceUpdated(modelId, pricePerCall);
    }

    function deprecate(uint256 modelId) external onlyModelOwner(modelId) {
        _models[modelId].deprecated = true;
        emit ModelDeprecated(modelId);
    }

    function getModel(uint256 modelId) external view returns (Model memory) {
        if (_ownerOf(modelId) == address(0)) revert UnknownModel(modelId);
        return _models[modelId];
    }

    function trainingSetsOf(uint256 modelId) external view returns (TrainingSet[] memory) {
        return _trainingSets[modelId];
    }
}
